"""Control characters from untrusted text never reach a model or a terminal.

A hostile API answer or run output (a forwarded tool, a poisoned page) carries terminal escape
sequences, BEL, NUL, backspace, DEL, C1 controls and Unicode line separators. Through every
channel a client shows (text block, structured content, error text) none of them arrives; line
breaks arrive as plain newlines.
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
from hostile_upstream import ERROR_GROUP, GROUP, Upstream, hostile_client

from taskgroup_mcp.tools._sanitize import sanitize, strip_invisible

HOSTILE = (
    "Acme\x1b[2J\x1b[31mRED\x1b[0m\x07 bell\x00nul back\x08space del\x7f c1\x85\x9b1m "
    "title\x1b]0;pwned\x07 link\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ "
    "cr\roverwrite line\u2028sep\u2029para end"
)
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]  # pyright: ignore[reportUnknownVariableType]
    return []


def _assert_clean(where: str, result: Any) -> None:
    texts = [str(getattr(block, "text", "")) for block in result.content]
    decoded: list[str] = []
    for text in texts:  # a JSON text block may spell a control as an escape: check what it decodes to
        try:
            decoded.extend(_strings(json.loads(text)))
        except ValueError:
            decoded.append(text)
    for shown in texts + decoded + _strings(result.structured_content or {}):
        found = FORBIDDEN.search(shown)
        assert found is None, (
            f"{where}: U+{ord(found.group()):04X} in ...{shown[max(0, found.start() - 30) :][:60]!r}"
        )


def test_strip_invisible_removes_terminal_sequences_and_controls_and_keeps_line_breaks() -> None:
    assert strip_invisible("\x1b[31mred\x1b[0m") == "red"
    assert strip_invisible("a\x07b\x00c\x08d\x7fe\x9ff") == "abcdef"
    assert strip_invisible("x\x1b]8;;https://evil\x1b\\click\x1b]8;;\x1b\\y") == "xclicky"
    assert strip_invisible("a\r\nb\rc\u2028d\u2029e\x85f\tg") == "a\nb\nc\nd\ne\nf\tg"
    assert sanitize({"k\x1b[1m": ["v\x00"]}) == {"k": ["v"]}


def test_control_characters_from_hostile_runs_and_errors_reach_no_channel() -> None:
    upstream = Upstream(runs=3, texts=[HOSTILE], error_message=HOSTILE)

    async def scenario() -> None:
        async with hostile_client(upstream) as client:
            page = await client.call_tool(
                "get_task_group_results",
                {"task_group_id": GROUP, "include_basis": "all", "include_input": True},
            )
            assert not page.is_error and "RED" in json.dumps(page.structured_content)
            _assert_clean("get_task_group_results", page)
            run = await client.call_tool("get_task_run", {"run_id": "trun_1", "include_tool_calls": True})
            assert not run.is_error and "overwrite line" in json.dumps(run.structured_content)
            _assert_clean("get_task_run", run)
            error = await client.call_tool("get_task_group_status", {"task_group_id": ERROR_GROUP})
            assert error.is_error and "bell" in error.content[0].text  # type: ignore[union-attr]
            _assert_clean("error", error)

    anyio.run(scenario)
