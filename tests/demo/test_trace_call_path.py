"""scripts/trace_call_path.py: the path of one add_runs call, and the figures it prints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trace_call_path", ROOT / "scripts" / "trace_call_path.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


trace = _load_script()


def test_a_call_back_into_a_file_further_up_the_path_counts_as_a_re_entry() -> None:
    node = trace.Node
    tracer = trace.Tracer()
    # tools/_a.f -> client/_b.g -> tools/_a.h (a callback: an upcall and a re-entry), and g -> g2 in one file
    tracer.roots.append(
        node(
            "tools/_a.py",
            "f",
            [node("client/_b.py", "g", [node("tools/_a.py", "h"), node("client/_b.py", "g2")])],
        )
    )
    figures, lines = trace.summarize(tracer)
    assert figures == {"functions": 4, "files": 2, "switches": 4, "re-entries": 1, "upcalls": 1}
    assert lines == ["tools/_a.py:f", "  client/_b.py:g", "    tools/_a.py:h", "    client/_b.py:g2"]


@pytest.mark.anyio
async def test_the_traced_add_runs_call_goes_from_the_tool_to_the_http_request_and_skips_the_sandbox(
    tmp_path: Path,
) -> None:
    tracer = await trace.trace_add_runs(tmp_path)
    figures, lines = trace.summarize(tracer)
    calls = [line.strip() for line in lines]
    assert "tools/_tools/runs.py:add_runs" in calls
    assert "client/_http.py:send" in calls
    assert not any(call.startswith("sandbox/") for call in calls)
    assert figures["functions"] >= 20 and figures["files"] >= 5
    assert sys.getprofile() is None
