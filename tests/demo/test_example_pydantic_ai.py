"""The pydantic-ai example drives taskgroup-mcp (sandbox) with pydantic-ai's MCP client and scripted model."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import anyio
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pydantic_ai_agent.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pydantic_ai_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.anyio
async def test_a_pydantic_ai_agent_fans_out_and_reads_every_result_through_its_mcp_client() -> None:
    example = _load_example()
    with anyio.fail_after(90):
        run = await example.run_example({"TASKGROUP_MCP_STATE_DIR": os.environ["TASKGROUP_MCP_STATE_DIR"]})
    assert run.tool_calls[0] == "fan_out"
    assert run.tool_calls[-1] == "get_task_group_results"
    assert "sandbox" in run.output
    for company in example.COMPANIES:
        assert company in run.output
