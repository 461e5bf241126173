"""The port a ``taskgroup-mcp serve --transport http --port 0`` process bound: the system picks a
free one as the server binds it (no pick-a-port-then-bind race), and the startup line on stderr
(``serving MCP at http://HOST:PORT/mcp``, text or JSON logs) names it."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

STARTUP_LINE = re.compile(r"serving MCP at http://[^\s/]+:(\d+)/mcp")


def announced_port(log: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """Wait for the server's startup line in ``log`` (its stderr) and return the port it names."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        found = STARTUP_LINE.search(log.read_text(encoding="utf-8", errors="replace"))
        if found:
            return int(found[1])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
    raise AssertionError(f"the server never said which port it bound (exit {proc.poll()}):\n{tail}")
