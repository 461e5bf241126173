"""Real processes for the journal tests: a standalone sandbox (the API, with faults) and server
processes over stdio, each a separate ``python -m taskgroup_mcp``, as clients launch them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from taskgroup_mcp.commands._stdio import connect, server_parameters

API_KEY = "journal-proc-key-0123456789"


def base_env(**extra: str) -> dict[str, str]:
    """The test's environment without anyone's TASKGROUP_MCP_*/PARALLEL_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKGROUP_MCP_", "PARALLEL_"))}
    env["TASKGROUP_MCP_STATE_DIR"] = os.environ["TASKGROUP_MCP_STATE_DIR"]
    env["TASKGROUP_MCP_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


@contextmanager
def sandbox_process(*flags: str) -> Iterator[str]:
    """``taskgroup-mcp sandbox --port 0 FLAGS``: yields its base URL; stopped at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskgroup_mcp", "sandbox", "--port", "0", "--log-level", "WARNING", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=base_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on " in line, f"the sandbox did not start: {line!r}"
        yield line.rsplit("listening on ", 1)[1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@asynccontextmanager
async def server_process(env: dict[str, str], *args: str) -> AsyncIterator[Client]:
    """One ``taskgroup-mcp`` server process over stdio (ends when the block ends)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        try:
            async with connect(server_parameters(list(args), env), errlog) as client:
                yield client
        except BaseException:
            errlog.seek(0)
            sys.stderr.write("server stderr:\n" + errlog.read()[-4000:])
            raise


def data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    value: dict[str, Any] = result.structured_content
    return value


def cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``taskgroup-mcp ARGS`` as a person or a script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def kill_marked(marker: str) -> int:
    """SIGKILL every process of this user whose environment holds ``TEST_PROCESS_MARK=marker`` (a
    crash: no cleanup runs); returns how many were killed."""
    needle = f"TEST_PROCESS_MARK={marker}".encode() + b"\0"
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed
