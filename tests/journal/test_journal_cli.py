"""One-shot processes with ``--sandbox``: a client that starts a new server per call (the Inspector's
--cli mode, langchain-mcp-adapters' default) creates, adds, waits and reads across processes; and
the command line for people reads the same journal and sandbox."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from procs import API_KEY, base_env, cli, data, server_process

pytestmark = pytest.mark.anyio

SANDBOX = {"TASKGROUP_MCP_SANDBOX_SPEED": "2000"}


async def _one_shot_job(env: dict[str, str]) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    async with server_process(env, "--sandbox") as first:
        gid = data(await first.call_tool("create_task_group", {"label": "one-shot job"}))["task_group_id"]
    async with server_process(env, "--sandbox") as second:
        added = data(
            await second.call_tool("add_runs", {"task_group_id": gid, "inputs": ["Acme", "Hooli", "Initech"]})
        )
    async with server_process(env, "--sandbox") as third:
        with anyio.fail_after(60):
            while data(
                await third.call_tool("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 5})
            )["status"]["active"]:
                pass
        page = data(await third.call_tool("get_task_group_results", {"task_group_id": gid}))
        listed = data(await third.call_tool("list_task_groups", {}))
    return gid, added, page, listed


async def test_create_add_wait_and_read_each_in_its_own_process_with_the_sandbox() -> None:
    env = base_env(**SANDBOX)
    gid, added, page, listed = await _one_shot_job(env)
    assert added["added"] == 3
    assert sorted(item["key"] for item in page["items"]) == ["Acme", "Hooli", "Initech"]
    assert all(item["status"] == "completed" for item in page["items"])
    assert [(g["task_group_id"], g["label"], g["active"], g["total"]) for g in listed["groups"]] == [
        (gid, "one-shot job", False, 3)
    ]
    async with server_process(env, "--sandbox") as fourth:
        other = data(await fourth.call_tool("create_task_group", {}))["task_group_id"]
    assert other != gid, "a fresh process never hands out an id that is already taken"


async def test_the_command_line_lists_shows_prints_and_exports_what_the_servers_made(tmp_path: Path) -> None:
    env = base_env(**SANDBOX)
    gid, *_ = await _one_shot_job(env)

    groups = cli(env, "groups", "--sandbox", "--json")
    assert groups.returncode == 0, groups.stderr
    assert [(g["task_group_id"], g["label"]) for g in json.loads(groups.stdout)] == [(gid, "one-shot job")]
    table = cli(env, "groups", "--sandbox")
    assert gid in table.stdout and "one-shot job" in table.stdout and "done" in table.stdout

    status = cli(env, "status", gid, "--sandbox", "--json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert (shown["label"], shown["total"], shown["active"]) == ("one-shot job", 3, False)
    assert "one-shot job" in cli(env, "status", gid, "--sandbox").stdout

    as_csv = cli(env, "results", gid, "--sandbox", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert sorted(r["key"] for r in rows) == ["Acme", "Hooli", "Initech"]
    as_jsonl = cli(env, "results", gid, "--sandbox", "--format", "jsonl")
    assert len([json.loads(line) for line in as_jsonl.stdout.splitlines()]) == 3
    as_table = cli(env, "results", gid, "--sandbox")
    assert as_table.stdout.startswith("INPUT") and "Initech" in as_table.stdout

    target = tmp_path / "out" / "acme.csv"
    target.parent.mkdir()
    exported = cli(env, "export", gid, "--to", str(target), "--sandbox", "--json")
    assert exported.returncode == 0, exported.stderr
    report = json.loads(exported.stdout)
    assert (report["rows"], report["no_duplicates"], report["path"]) == (3, True, str(target))
    assert len(list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))) == 3
    assert [p.name for p in target.parent.iterdir()] == ["acme.csv"], "no staging file is left behind"


async def test_exit_codes_say_what_went_wrong_in_one_line_without_a_traceback() -> None:
    env = base_env(**SANDBOX)
    missing = cli(env, "status", "tgrp_doesnotexist", "--sandbox")
    assert missing.returncode == 3 and "tgrp_doesnotexist" in missing.stderr
    usage = cli(env, "status", "--sandbox")
    assert usage.returncode == 2
    bad_id = cli(env, "results", "tgrp_x", "--format", "xml", "--sandbox")
    assert bad_id.returncode == 2 and "xml" in bad_id.stderr
    api_down = cli(
        base_env(PARALLEL_API_KEY=API_KEY, PARALLEL_BASE_URL="http://127.0.0.1:9"), "status", "tgrp_x"
    )
    assert api_down.returncode == 4 and "Could not reach the Parallel API" in api_down.stderr
    no_key = cli(base_env(), "groups")
    assert no_key.returncode == 2 and "PARALLEL_API_KEY" in no_key.stderr
    for done in (missing, usage, bad_id, api_down, no_key):
        assert "Traceback" not in done.stderr and API_KEY not in done.stderr + done.stdout
    for done in (missing, api_down, no_key):  # (argparse prints its usage lines for 2s of its own)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


async def test_sandbox_reset_clears_the_shared_sandbox_and_the_journal_forgets_its_groups() -> None:
    env = base_env(**SANDBOX)
    async with server_process(env, "--sandbox") as server:
        gid = data(await server.call_tool("create_task_group", {"label": "to be cleared"}))["task_group_id"]
    assert cli(env, "status", gid, "--sandbox").returncode == 0
    reset = cli(env, "sandbox", "--reset")
    assert reset.returncode == 0 and "cleared" in reset.stdout, reset.stderr
    assert json.loads(cli(env, "groups", "--sandbox", "--json").stdout) == []
    assert cli(env, "status", gid, "--sandbox").returncode == 3
