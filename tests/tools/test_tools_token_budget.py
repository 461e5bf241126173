"""Token budgets measured with real tokenizers on the whole result a client receives.

Run outputs are third-party text: a forwarded tool or a poisoned page can fill them with CJK,
emoji, combining marks, rare planes, escapes and control characters, which cost far more tokens
per character than English. Every page, run, status and error must stay within its budget in
real tokens (OpenAI's ``o200k_base`` and ``cl100k_base``, shipped inside the ``bpe-openai``
package), whichever way a client shows it: the text block, the structured content (compact, or
as Python's ``json.dumps`` with its ASCII escapes), both, or the whole result as JSON.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import anyio
import pytest
from hostile_upstream import ERROR_GROUP, GROUP, Upstream, hostile_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.client.extension import advertise

from taskgroup_mcp.tools._answer import ANSWER_MAX_TOKENS, ERROR_MAX_TOKENS
from taskgroup_mcp.tools._explorer import APP_MIME_TYPE, EXTENSION_ID

with warnings.catch_warnings():  # bpe-openai 0.1.4 reads its vocabularies with a deprecated API
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai

    ENCODINGS = [bpe_openai.get_encoding("o200k_base"), bpe_openai.get_encoding("cl100k_base")]
RUN_MAX_TOKENS = 20_000

ALPHABETS = [
    "中文字符漢字謝謝鬱齉龘𠀀𪚥",  # CJK, common and rare (plane 2)
    "😀🎉🧪🦄👩‍👩‍👧‍👦🏳️‍🌈🇳🇱",  # emoji, ZWJ sequences, flags
    "e\u0301a\u0308\u20dd\u0489\u0332",  # combining marks
    "\U0001d54f\U0001f9ff\U000e0100\U0010fffd\U00016fe0",  # rare planes, variation selectors
    "\"\\/\n\t<>&'{}[]",  # what JSON and markup escape
    "\x00\x1b[31m\x07\x08\x7f\x85\x9b\u2028\u2029\r",  # control characters
    "\u200b\u202e\U000e0041\ufeff",  # invisible characters
    "Lorem ipsum dolor 12345 ",  # plain text
]


@st.composite
def hostile_texts(draw: st.DrawFn) -> str:
    """A text of up to ~24,000 characters mixing the alphabets above in a drawn pattern."""
    parts = draw(
        st.lists(
            st.tuples(st.sampled_from(ALPHABETS), st.integers(1, 12), st.integers(0, 7)),
            min_size=1,
            max_size=6,
        )
    )
    unit = "".join((alphabet * 2)[start : start + n] for alphabet, n, start in parts)
    length = draw(st.integers(0, 24_000))
    return (unit * (length // max(len(unit), 1) + 1))[:length]


def renderings(result: Any) -> list[str]:
    """Every way a client may show a result to a model."""
    text = "\n".join(str(getattr(block, "text", "")) for block in result.content)
    if result.structured_content is None:
        return [text, json.dumps(text), json.dumps({"isError": result.is_error, "content": text})]
    data = result.structured_content
    compact = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    escaped = json.dumps(data)
    return [
        text,
        compact,
        escaped,
        text + "\n" + escaped,
        json.dumps({"content": [{"type": "text", "text": text}], "structuredContent": data}),
    ]


def real_tokens(result: Any) -> int:
    """The most tokens any rendering of ``result`` costs in either tokenizer."""
    return max(len(enc.encode_ordinary(shown)) for shown in renderings(result) for enc in ENCODINGS)


async def _measure(upstream: Upstream, max_tokens: int) -> dict[str, tuple[int, int]]:
    """(real tokens, budget) of a first results page, a run, a status and an error."""
    async with hostile_client(upstream) as client:
        page = await client.call_tool(
            "get_task_group_results",
            {"task_group_id": GROUP, "include_basis": "all", "include_input": True, "max_tokens": max_tokens},
        )
        assert not page.is_error, page.content[0]
        assert page.structured_content["returned"] >= 1
        run = await client.call_tool("get_task_run", {"run_id": "trun_0", "include_tool_calls": True})
        assert not run.is_error, run.content[0]
        status = await client.call_tool("get_task_group_status", {"task_group_id": GROUP})
        assert not status.is_error, status.content[0]
        error = await client.call_tool("get_task_group_status", {"task_group_id": ERROR_GROUP})
        assert error.is_error
    return {
        "page": (real_tokens(page), max_tokens),
        "run": (real_tokens(run), RUN_MAX_TOKENS),
        "status": (real_tokens(status), ANSWER_MAX_TOKENS),
        "error": (real_tokens(error), ERROR_MAX_TOKENS),
    }


@pytest.mark.parametrize("max_tokens", [8_000, 20_000])
def test_emoji_and_rare_cjk_outputs_stay_within_max_tokens_in_real_tokens(max_tokens: int) -> None:
    worst = "\U0001f9ff\U00020000\U0002a6a5\U0001d54f" * 6_000
    upstream = Upstream(runs=30, texts=[worst], error_message=worst, status_keys=[worst[:5_000]])
    measured = anyio.run(_measure, upstream, max_tokens)
    for what, (tokens, budget) in measured.items():
        assert tokens <= budget, f"{what}: {tokens} real tokens against a budget of {budget}"


TEXTS = st.lists(hostile_texts(), min_size=1, max_size=4)
RUNS = st.integers(1, 12)
BUDGETS = st.integers(2_000, 20_000)


def _within_budgets(texts: list[str], runs: int, max_tokens: int) -> None:
    upstream = Upstream(runs=runs, texts=texts, error_message=texts[0] * 3, status_keys=texts[-1:])
    measured = anyio.run(_measure, upstream, max_tokens)
    for what, (tokens, budget) in measured.items():
        assert tokens <= budget, f"{what}: {tokens} real tokens against a budget of {budget}"


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(texts=TEXTS, runs=RUNS, max_tokens=BUDGETS)
def test_no_page_run_status_or_error_exceeds_its_budget_in_real_tokens_for_adversarial_unicode(
    texts: list[str], runs: int, max_tokens: int
) -> None:
    _within_budgets(texts, runs, max_tokens)


@pytest.mark.slow
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(texts=TEXTS, runs=RUNS, max_tokens=BUDGETS)
def test_the_long_profile_of_the_real_token_budgets_holds_too(
    texts: list[str], runs: int, max_tokens: int
) -> None:
    _within_budgets(texts, runs, max_tokens)


@pytest.mark.anyio
@pytest.mark.parametrize("max_tokens", [2_000, 8_000])
async def test_fan_out_and_wait_answers_stay_within_their_budgets_in_real_tokens(
    sandbox: Any, max_tokens: int
) -> None:
    inputs = [f"{i} " + "\U0001f9ff\U00020000\u4e2d\x1b[31m" * 60 for i in range(30)]
    async with sandbox() as (client, _, _):
        fan = await client.call_tool(
            "fan_out",
            {"inputs": inputs, "output": "one paragraph", "wait_seconds": 30, "max_tokens": max_tokens},
        )
        assert not fan.is_error, fan.content[0]
        assert real_tokens(fan) <= max_tokens
        gid = fan.structured_content["task_group_id"]
        wait = await client.call_tool("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 5})
        assert not wait.is_error and real_tokens(wait) <= ANSWER_MAX_TOKENS


@pytest.mark.parametrize("max_tokens", [2_000, 8_000])
def test_under_mcp_apps_the_models_summary_fits_max_tokens_in_real_tokens(max_tokens: int) -> None:
    """With the explorer the page is the app's; the text block the model reads is a summary."""
    worst = "\U0001f9ff\U00020000\U0002a6a5\U0001d54f" * 3_000
    apps = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]

    async def scenario() -> Any:
        async with hostile_client(Upstream(runs=30, texts=[worst]), extensions=apps) as client:
            return await client.call_tool(
                "get_task_group_results", {"task_group_id": GROUP, "max_tokens": max_tokens}
            )

    result = anyio.run(scenario)
    assert not result.is_error
    text = "\n".join(str(getattr(block, "text", "")) for block in result.content)
    assert "shown_in_explorer" in text
    shown = [text, json.dumps(text)]
    assert max(len(enc.encode_ordinary(s)) for s in shown for enc in ENCODINGS) <= max_tokens
