"""The langchain-mcp-adapters example runs a whole fan-out from its own environment, in both modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "langchain_mcp_adapters_fanout.py"
LANGCHAIN_PYTHON = ROOT / ".venv-langchain" / "bin" / "python"


@pytest.mark.parametrize("mode", ["session", "default"])
def test_langchain_mcp_adapters_runs_the_whole_fan_out_against_the_installed_server(
    mode: str, tmp_path: Path
) -> None:
    """Session mode keeps one server process; default mode starts one per tool call, and works
    because --sandbox keeps the sandbox in the state directory."""
    if not LANGCHAIN_PYTHON.exists():
        pytest.fail(
            "no .venv-langchain: `make test` creates it from examples/requirements-langchain.txt "
            "(langchain-mcp-adapters needs mcp<2, so it has an environment of its own)",
            pytrace=False,
        )
    server = Path(sys.executable).parent / "taskgroup-mcp"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TASKGROUP_MCP_SANDBOX_SPEED": "600",
        "TASKGROUP_MCP_EXPORT_DIR": str(tmp_path / "exports"),
        "TASKGROUP_MCP_STATE_DIR": str(tmp_path / "state"),
    }
    done = subprocess.run(
        [
            str(LANGCHAIN_PYTHON),
            str(EXAMPLE),
            str(server),
            *(["--default-mode"] if mode == "default" else []),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    version = subprocess.run(
        [str(LANGCHAIN_PYTHON), "-c", "import mcp, importlib.metadata as m; print(m.version('mcp'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert version.startswith("1."), "the adapters' environment holds mcp 1.x, this server mcp 2"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["task_group_id"].startswith("tgrp_")
    assert result["added"] == 50 and result["results"] == 50 and result["distinct_results"] == 50
    assert result["pages"] >= 3 and result["export_rows"] == 50 and result["exactly_once"] is True
