"""``taskgroup-mcp ui``: the explorer for people outside a chat, on a local page with a token.

The page is the package's own hand-written host (no Node); it is driven in headless Chromium
against the real tools on an embedded sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from taskgroup_mcp.commands.ui import TOKEN_HEADER, explorer_url, open_ui
from taskgroup_mcp.config import Settings

SCHEMA = {"type": "object", "properties": {"hq": {"type": "string", "description": "headquarters city"}}}


@contextmanager
def ui_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``open_ui`` on a sandbox in a thread of its own; yields (base URL, token)."""
    ready = threading.Event()
    stop = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        settings = Settings.from_env({}, sandbox=True, sandbox_speed=200.0, export_dir=tmp_path / "exports")
        async with open_ui(settings) as (base, ui):
            box.update(base=base, token=ui.token)
            ready.set()
            await anyio.to_thread.run_sync(stop.wait)

    def main() -> None:
        try:
            anyio.run(serve)
        except BaseException as exc:
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(30)
    if "error" in box:
        raise box["error"]
    try:
        yield box["base"], box["token"]
    finally:
        stop.set()
        thread.join(30)


def rpc(base: str, token: str | None, method: str, params: dict[str, Any]) -> httpx2.Response:
    headers = {TOKEN_HEADER: token} if token else {}
    return httpx2.post(f"{base}/rpc", json={"method": method, "params": params}, headers=headers, timeout=30)


def call(base: str, token: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    response = rpc(base, token, "tools/call", {"name": name, "arguments": arguments})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    assert not result.get("isError"), result
    return result["structuredContent"]


def test_the_ui_page_hosts_the_explorer_on_a_group_with_its_token(chromium: Any, tmp_path: Path) -> None:
    with ui_server(tmp_path) as (base, token):
        gid = call(base, token, "create_task_group", {})["task_group_id"]
        inputs = [{"company": f"Company {i}"} for i in range(30)]
        call(base, token, "add_runs", {"task_group_id": gid, "inputs": inputs, "output": SCHEMA})
        context = chromium.new_context(viewport={"width": 1200, "height": 800}, accept_downloads=True)
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        context.on("request", lambda r: requests.append(r.url))
        page.add_init_script(
            "window.__opened = []; window.open = (u) => { window.__opened.push(u); return null; };"
        )
        page.goto(explorer_url(base, token, gid))
        app = page.frame_locator("#app")
        deadline = time.monotonic() + 60
        while app.locator("body").get_attribute("data-state") != "done":
            assert time.monotonic() < deadline, "the explorer never finished loading"
            page.wait_for_timeout(100)
        page.screenshot(path=str(tmp_path / "ui-command.png"))
        assert app.locator("#count").text_content() == "30 runs"
        assert app.locator("#group").text_content() == gid
        assert app.locator("#fullscreen").is_hidden(), "the page is always full page"
        app.locator("#rows .row").first.click()
        links = app.locator("#drawer .citations a")
        links.first.wait_for()
        links.first.click()
        page.wait_for_function("() => window.__opened.length === 1")
        assert page.evaluate("() => window.__opened")[0].startswith("https://")
        app.locator("#d-close").click()
        with page.expect_download() as download:
            app.locator("#export-csv").click()
        assert download.value.suggested_filename.startswith(
            gid
        ) and download.value.suggested_filename.endswith(".csv")
        assert Path(download.value.path()).read_text(encoding="utf-8").startswith("key,run_id,status")
        context.close()
    assert errors == []
    assert all(u.startswith(base + "/") or u.startswith(("data:", "about:", "blob:")) for u in requests), (
        requests
    )


def test_the_ui_page_and_its_relay_refuse_without_the_token_and_relay_only_what_the_app_needs(
    tmp_path: Path,
) -> None:
    with ui_server(tmp_path) as (base, token):
        assert httpx2.get(f"{base}/").status_code == 403
        assert httpx2.get(f"{base}/?token=wrong").status_code == 403
        page = httpx2.get(f"{base}/?token={token}")
        assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert (
            rpc(base, None, "tools/call", {"name": "create_task_group", "arguments": {}}).status_code == 403
        )
        assert rpc(base, "wrong", "resources/read", {"uri": "ui://taskgroup/explorer"}).status_code == 403
        assert rpc(base, token, "resources/read", {"uri": "taskgroup://processors"}).status_code == 400
        assert rpc(base, token, "prompts/get", {"name": "plan_fan_out"}).status_code == 400
        read = rpc(base, token, "resources/read", {"uri": "ui://taskgroup/explorer"})
        assert read.json()["result"]["contents"][0]["mimeType"] == "text/html;profile=mcp-app"
        foreign = httpx2.get(f"{base}/?token={token}", headers={"Host": "evil.example"})
        assert foreign.status_code == 400


def test_the_ui_command_prints_a_loopback_url_with_a_token(tmp_path: Path) -> None:
    env = {**os.environ, "TASKGROUP_MCP_EXPORT_DIR": str(tmp_path), "TASKGROUP_MCP_LOG_LEVEL": "WARNING"}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskgroup_mcp", "ui", "--sandbox", "tgrp_example"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Task-group explorer: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        assert "token=" in url and url.endswith("&group=tgrp_example")
        assert httpx2.get(url).status_code == 200
        assert httpx2.get(url.split("?")[0]).status_code == 403
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_ui_command_refuses_a_group_that_is_not_an_id() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", "ui", "../etc", "--no-browser"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "GROUP must be a task group id" in done.stderr


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
