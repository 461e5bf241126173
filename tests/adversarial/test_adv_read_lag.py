"""Read-after-write lag: the API may list a committed run only a
moment later. The sandbox's ``commit_delay_ms`` fault makes every committed run visible to reads
only after a delay. An add_runs whose POSTs were answered must not report those inputs as failed
because the final audit cannot see them yet, and the same call repeated inside the lag (an agent
retrying at once) must add nothing twice.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from adv_harness import api_settings, data_of, mcp_client

from taskgroup_mcp.sandbox import Faults, ManualClock, Sandbox, SandboxConfig

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_repeated_inside_the_read_lag_reports_success_and_adds_nothing_twice(
    tmp_path: Path, mode: str
) -> None:
    settings = api_settings(tmp_path, settle_seconds=0.05)
    clock = ManualClock()  # frozen: every read inside this test sees the lag, however slow the machine
    sandbox = Sandbox(
        SandboxConfig(speed=2_000.0, seed=31, faults=Faults(commit_delay_ms=400.0)), clock=clock
    )
    args = {"task_group_id": "", "inputs": ["Hooli", "Acme", "Acme"]}
    async with sandbox, mcp_client(settings, sandbox, mode) as client:
        gid = data_of(await client.call_tool("create_task_group", {}))["task_group_id"]
        args["task_group_id"] = gid
        with anyio.fail_after(30):
            first = data_of(await client.call_tool("add_runs", args))
            again = data_of(await client.call_tool("add_runs", args))
        clock.advance(1.0)
        sandbox.lifecycle.tick()
    assert (first["added"], first["failed_total"]) == (3, 0), first
    assert (again["added"], again["already_present"], again["failed_total"]) == (0, 3, 0), again
    runs = sandbox.store.group_runs(gid, -1, None, 100)
    cids = [str((r.input.metadata or {}).get("mcp_cid")) for r in runs]
    assert len(cids) == 3 and len(set(cids)) == 3, "one run per input, even after a repeat inside the lag"
    sandbox.close()
