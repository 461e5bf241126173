"""Multi-tenant HTTP with the journal: each caller (its own X-Parallel-Api-Key) lists only the groups
made with its key, over a real uvicorn on 127.0.0.1; the journal keeps a hash, never the key."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from deploy_harness import TOKEN, client, serving
from pydantic import SecretStr

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.commands.http import build_http_app
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig
from taskgroup_mcp.tools import build_server

pytestmark = pytest.mark.anyio

ALICE = "alice-parallel-key-0123456789"
BOB = "bob-parallel-key-0123456789"


async def test_a_tenant_never_sees_another_tenants_groups(tmp_path: Path) -> None:
    settings = Settings(
        auth_tokens=[SecretStr(TOKEN)], port=0, per_request_api_key=True, state_dir=tmp_path / "state",
        parallel_base_url="http://api.test.invalid", export_dir=tmp_path / "exports",
    )  # fmt: skip
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=21))

    def factory() -> ParallelClient:
        return ParallelClient.from_settings(settings, transport=sandbox.transport)

    app = build_http_app(settings, build_server(settings, factory))
    seen: dict[str, Any] = {}
    async with sandbox, serving(app) as running:
        with anyio.fail_after(60):
            for who, key in (("alice", ALICE), ("bob", BOB)):
                headers = {"Authorization": f"Bearer {TOKEN}", "X-Parallel-Api-Key": key}
                async with client(running.mcp_url, headers=headers) as c:
                    made = await c.call_tool("create_task_group", {"label": f"{who}'s research"})
                    listed = await c.call_tool("list_task_groups", {})
                    seen[who] = ((made.structured_content or {})["task_group_id"], listed.structured_content)
    sandbox.close()
    (alice_gid, alice_list), (bob_gid, bob_list) = seen["alice"], seen["bob"]
    assert [(g["task_group_id"], g["label"]) for g in alice_list["groups"]] == [
        (alice_gid, "alice's research")
    ]
    assert [(g["task_group_id"], g["label"]) for g in bob_list["groups"]] == [(bob_gid, "bob's research")]
    raw = (tmp_path / "state" / "journal.db").read_bytes()
    for key in (ALICE, BOB):
        assert key.encode() not in raw, "the journal never holds a caller's key"
    tenants = {
        r[0]
        for r in sqlite3.connect(tmp_path / "state" / "journal.db").execute("SELECT tenant FROM tg_groups")
    }
    assert len(tenants) == 2 and all(len(t) == 32 for t in tenants)


async def test_readyz_reports_the_journal_ok_read_only_unavailable_or_off_naming_the_setting_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskgroup_mcp.commands.http import journal_ready_check
    from taskgroup_mcp.journal import _sqlite as sqlite_impl
    from taskgroup_mcp.journal import open_journal

    dead = __import__("socket").socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening, for the whole test: refused, and no one takes it
    port = dead.getsockname()[1]
    dead_url = f"postgresql://taskgroup:pw-s3cret-value@127.0.0.1:{port}/journal"
    base = {"auth_tokens": [SecretStr(TOKEN)], "port": 0, "export_dir": tmp_path / "exports"}
    state = tmp_path / "state"

    async def readyz(settings: Settings) -> tuple[int, str]:
        journal = open_journal(settings)
        try:
            app = build_http_app(
                settings, build_server(settings), ready_check=None, journal_check=journal_ready_check(journal)
            )
            async with serving(app) as running, httpx2.AsyncClient(base_url=running.base) as http:
                with anyio.fail_after(30):
                    response = await http.get("/readyz")
            return response.status_code, response.text
        finally:
            if journal is not None:
                await journal.close()

    with dead:
        ok = await readyz(Settings(**base, state_dir=state))
        off = await readyz(Settings(**base, state=False))
        unavailable = await readyz(Settings(**base, database_url=SecretStr(dead_url)))
    # Root ignores permission bits, so "not writable" is what os.access reports (the file is then
    # opened read-only and SQLite refuses every write).
    monkeypatch.setattr(sqlite_impl.os, "access", lambda path, mode: mode != os.W_OK)  # pyright: ignore[reportUnknownLambdaType]
    read_only = await readyz(Settings(**base, state_dir=state))
    assert ok == (200, '{"status":"ready","journal":"ok","journal_setting":"TASKGROUP_MCP_STATE_DIR"}')
    assert read_only == (
        200,
        '{"status":"ready","journal":"read-only","journal_setting":"TASKGROUP_MCP_STATE_DIR"}',
    ), "the tools keep working against the API: the pod stays ready and says why"
    assert unavailable == (
        200,
        '{"status":"ready","journal":"unavailable","journal_setting":"TASKGROUP_MCP_DATABASE_URL"}',
    )
    assert off == (200, '{"status":"ready","journal":"off","journal_setting":"TASKGROUP_MCP_STATE"}')
