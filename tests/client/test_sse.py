"""The SSE reader gives the same events as httpx2's own parser, however the bytes are split."""

from __future__ import annotations

import httpx2
from hypothesis import given
from hypothesis import strategies as st

from taskgroup_mcp.client._sse import SseDecoder

_LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
_TEXT = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30)


@st.composite
def _streams(draw: st.DrawFn) -> str:
    end = draw(_LINE_ENDS)
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        lines = [f"event: {draw(_TEXT)}"] if draw(st.booleans()) else []
        if draw(st.booleans()):
            lines.append(f": {draw(_TEXT)}")
        lines += [
            f"data:{draw(st.sampled_from(['', ' ']))}{draw(_TEXT)}" for _ in range(draw(st.integers(0, 3)))
        ]
        parts.append(end.join(lines) + end + end)
    return "".join(parts)


def _reference(stream: bytes) -> list[str]:
    request = httpx2.Request("GET", "http://api/v1/tasks/groups/g/runs")
    response = httpx2.Response(
        200, headers={"content-type": "text/event-stream"}, content=stream, request=request
    )
    return [sse.data for sse in httpx2.EventSource(response) if sse.data]


@given(_streams(), st.lists(st.integers(1, 40), max_size=20))
def test_every_split_of_a_stream_gives_the_events_the_reference_parser_gives(
    stream: str, cuts: list[int]
) -> None:
    raw = stream.encode()
    decoder = SseDecoder()
    events: list[str] = []
    at = 0
    for cut in cuts:
        events += decoder.feed(raw[at : at + cut])
        at += cut
    events += decoder.feed(raw[at:])
    events += decoder.end()
    assert [e for e in events if e] == _reference(raw)


def test_an_event_cut_off_by_the_end_of_the_stream_is_dropped() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b'data: {"a": 1}\n\ndata: {"b": 2}') == ['{"a": 1}']
    assert decoder.end() == []
