"""The demo's loopback 'company facts' MCP server answers like any remote MCP server would."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from taskgroup_mcp.commands._demo_facts import COMPANIES, build_facts_server, lookup, serve_facts_server


def test_a_company_named_anywhere_in_the_query_is_found_case_blind() -> None:
    facts = lookup("When was KESTREL aerospace founded, and where is it based?")
    assert facts is not None and facts.company == "Kestrel Aerospace"
    assert facts.sentence().startswith("Kestrel Aerospace: founded ")
    assert facts.sentence().endswith("(invented demo data)")


def test_the_same_company_always_gets_the_same_facts() -> None:
    assert lookup("Iris Optics") == lookup("tell me about iris optics")


def test_an_unknown_company_has_no_record() -> None:
    assert lookup("Globex Corporation") is None


def test_every_company_gets_plausible_facts() -> None:
    for company in COMPANIES:
        facts = lookup(company)
        assert facts is not None
        assert 1950 <= facts.founded_year < 2020 and facts.employees >= 50


@pytest.mark.anyio
async def test_the_lookup_tool_answers_in_memory_with_one_line_of_facts() -> None:
    facts = lookup("Orchid Pharma")
    assert facts is not None
    async with Client(build_facts_server()) as client:
        result = await client.call_tool("lookup_company", {"query": "Who runs Orchid Pharma?"})
        assert not result.is_error
        assert result.structured_content == {"result": facts.sentence()}
        missing = await client.call_tool("lookup_company", {"query": "Globex"})
        assert missing.is_error and "No record" in str(missing.content)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_served_tool_answers_over_streamable_http_on_loopback(mode: str) -> None:
    with anyio.fail_after(20):
        async with serve_facts_server() as running:
            assert running.url.startswith("http://127.0.0.1:") and running.url.endswith("/mcp")
            async with Client(running.url, mode=mode) as client:  # type: ignore[arg-type]
                tools = [t.name for t in (await client.list_tools()).tools]
                assert tools == ["lookup_company"]
                result = await client.call_tool("lookup_company", {"query": "Zephyr Airlines"})
                assert result.structured_content is not None
                assert str(result.structured_content["result"]).startswith("Zephyr Airlines: founded")
