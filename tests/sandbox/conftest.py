"""Fixtures for the sandbox tests: a sandbox on a manual clock and an in-process client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from taskgroup_mcp.sandbox import ManualClock, Sandbox, SandboxConfig

BASE = "http://sandbox"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["memory", "sqlite"])
def sandbox(request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path) -> Iterator[Sandbox]:
    """The same tests run against both stores."""
    db = str(tmp_path / "sandbox.db") if request.param == "sqlite" else None
    sb = Sandbox(SandboxConfig(speed=60.0, seed=0, db_path=db), clock=clock)
    yield sb
    sb.close()


def api(sb: Sandbox, key: str = "test-key") -> httpx2.AsyncClient:
    """An httpx2 client that reaches the sandbox in process."""
    headers = {"x-api-key": key} if key else {}
    return httpx2.AsyncClient(transport=sb.transport, base_url=BASE, headers=headers)


def sse_events(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE body, checking the framing: ``event:`` equals ``type``, no ``id:``."""
    out: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        assert not any(line.startswith("id:") for line in lines)
        event = [line[len("event: ") :] for line in lines if line.startswith("event: ")]
        data = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
        assert len(data) == 1, block
        payload = json.loads(data[0])
        assert event == [payload["type"]]
        out.append(payload)
    return out


def run_input(
    text: str = "What is the capital of France?", processor: str = "lite", **extra: Any
) -> dict[str, Any]:
    return {"input": text, "processor": processor, **extra}


async def new_group(client: httpx2.AsyncClient, prefix: str = "/v1") -> str:
    r = await client.post(f"{prefix}/tasks/groups", json={})
    assert r.status_code == 200, r.text
    return str(r.json()["taskgroup_id"])


async def add(
    client: httpx2.AsyncClient, gid: str, inputs: list[dict[str, Any]], **body: Any
) -> httpx2.Response:
    return await client.post(f"/v1/tasks/groups/{gid}/runs", json={"inputs": inputs, **body})
