"""Tool definitions pinned: what ``tools/list`` tells the model.

Names, titles, descriptions, input and output schemas and annotations are compared with a
committed snapshot, so a change to what the model reads is always deliberate and reviewed (a
rug-pull defence). The whole listing stays under a size budget and token budgets measured with a
real tokenizer (OpenAI's ``o200k_base``, from the ``bpe-openai`` package): every byte of it is paid
for in the context window of every conversation that loads the server.

When a change is intended, regenerate the snapshot and review its diff in the commit:

    TASKGROUP_MCP_UPDATE_SNAPSHOT=1 .venv/bin/pytest -q tests/adversarial/test_adv_tool_definitions.py
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from adv_harness import api_settings, mcp_client, new_sandbox

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).with_name("tools_snapshot.json")
UPDATE = os.environ.get("TASKGROUP_MCP_UPDATE_SNAPSHOT") == "1"
HOW_TO_UPDATE = (
    "tools/list changed. If the change is intended, regenerate the snapshot with\n"
    "    TASKGROUP_MCP_UPDATE_SNAPSHOT=1 .venv/bin/pytest -q tests/adversarial/test_adv_tool_definitions.py\n"
    "and commit tests/adversarial/tools_snapshot.json with the change (review its diff: it is what every "
    "model reads)."
)
with warnings.catch_warnings():  # bpe-openai 0.1.4 reads its vocabularies with a deprecated API
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai

    O200K = bpe_openai.get_encoding("o200k_base")

SIZE_BUDGET_BYTES = 22_000
"""Compact JSON of the whole tools/list. Measured 31,035 bytes on 2026-11-29 (9 tools), 35,877 with
10 tools, 20,003 on 2026-12-01 after the lean definitions (19,201 with open objects published as
such); budget about 10% above."""
MODEL_VISIBLE_BUDGET = 2_500
"""o200k tokens of what a model reads of the tools: name, description and input schema of each.
Measured 3,931 before the lean definitions, 2,465 after, 2,287 with open objects undisguised
(2026-12-01)."""
LISTING_BUDGET = 5_000
"""o200k tokens of the whole tools/list (titles, annotations, output schemas, _meta too), as a
client without MCP Apps receives it. Measured 8,646 before the lean definitions, 4,941 after, 4,764 with open objects undisguised."""
INJECTION = re.compile(
    r"ignore (all |any )?(previous|prior|above)|disregard|system prompt|<\s*(important|system|secret)|"
    r"do not (tell|show|mention)|without telling|secretly|exfiltrat|api[_ ]?key\s*[:=]",
    re.IGNORECASE,
)
INVISIBLE = re.compile(
    "[\U000e0000-\U000e007f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u180e]"
)


async def listed_tools(tmp_path: Path) -> list[dict[str, Any]]:
    sandbox = new_sandbox()
    async with sandbox, mcp_client(api_settings(tmp_path), sandbox) as client:
        tools = (await client.list_tools()).tools
    sandbox.close()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def pinned(tools: list[dict[str, Any]]) -> dict[str, Any]:
    keep = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
    entries = sorted(({k: t[k] for k in keep if k in t} for t in tools), key=lambda t: t["name"])
    digest = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
    return {"sha256": digest, "tools": entries}


async def test_tools_list_matches_the_committed_snapshot(tmp_path: Path) -> None:
    current = pinned(await listed_tools(tmp_path))
    if UPDATE:
        SNAPSHOT.write_text(
            json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if committed != current:
        old = {t["name"]: t for t in committed["tools"]}
        new = {t["name"]: t for t in current["tools"]}
        changed = sorted(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))
        pytest.fail(f"{HOW_TO_UPDATE}\nChanged tools: {', '.join(changed)}", pytrace=False)


async def test_the_whole_tool_listing_stays_under_its_size_budget(tmp_path: Path) -> None:
    tools = await listed_tools(tmp_path)
    size = len(json.dumps(tools, separators=(",", ":"), ensure_ascii=False).encode())
    assert size <= SIZE_BUDGET_BYTES, (
        f"tools/list is {size:,} bytes, over its budget of {SIZE_BUDGET_BYTES:,}: shorten descriptions or "
        "flatten schemas (or raise the budget deliberately, with the reason in the commit)"
    )


def o200k(value: Any) -> int:
    return len(O200K.encode(json.dumps(value, separators=(",", ":"), ensure_ascii=False)))


async def test_what_a_model_reads_of_the_tools_costs_at_most_2500_o200k_tokens(tmp_path: Path) -> None:
    tools = await listed_tools(tmp_path)
    visible = [{key: t[key] for key in ("name", "description", "inputSchema")} for t in tools]
    each = {t["name"]: o200k(t) for t in visible}
    assert o200k(visible) <= MODEL_VISIBLE_BUDGET, f"{o200k(visible):,} o200k tokens: {each}"


async def test_the_whole_tool_listing_costs_at_most_5000_o200k_tokens(tmp_path: Path) -> None:
    tools = await listed_tools(tmp_path)
    each = {t["name"]: o200k(t) for t in tools}
    assert o200k({"tools": tools}) <= LISTING_BUDGET, f"{o200k({'tools': tools}):,} o200k tokens: {each}"


async def test_tool_descriptions_carry_no_hidden_characters_or_injection_phrases(tmp_path: Path) -> None:
    for tool in await listed_tools(tmp_path):
        text = json.dumps(tool, ensure_ascii=False)
        assert not INVISIBLE.search(text), f"{tool['name']}: an invisible character in its definition"
        found = INJECTION.search(text)
        assert found is None, f"{tool['name']}: {found.group()!r} reads like an instruction injection"
