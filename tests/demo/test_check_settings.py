"""`taskgroup-mcp check` explains the settings it finds, never showing a secret."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from taskgroup_mcp.commands.check import check_settings, run_check
from taskgroup_mcp.config import Settings

CANARY_KEY = "pk-canary-7f3e9a1c5b2d"


def _levels(settings: Settings, environ: dict[str, str] | None = None) -> dict[str, str]:
    return {f.text: f.level for f in check_settings(settings, environ or {})}


def test_the_real_api_without_a_key_is_a_failure_that_says_how_to_fix_it(tmp_path: Path) -> None:
    found = _levels(Settings.from_env({}, export_dir=tmp_path))
    failures = [text for text, level in found.items() if level == "FAIL"]
    assert len(failures) == 1
    assert "PARALLEL_API_KEY" in failures[0] and "sandbox" in failures[0]


def test_the_mode_names_the_real_api_or_the_base_url_it_points_at(tmp_path: Path) -> None:
    assert "mode: the real Parallel API" in _levels(Settings.from_env({}, export_dir=tmp_path))
    other = Settings.from_env({"PARALLEL_BASE_URL": "http://127.0.0.1:8765"}, export_dir=tmp_path)
    assert "mode: the API at http://127.0.0.1:8765 (PARALLEL_BASE_URL)" in _levels(other)


def test_a_set_key_is_reported_without_its_value(tmp_path: Path) -> None:
    found = check_settings(Settings.from_env({"PARALLEL_API_KEY": CANARY_KEY}, export_dir=tmp_path), {})
    assert all(f.level == "ok" for f in found)
    assert any("PARALLEL_API_KEY: set" in f.text for f in found)
    assert CANARY_KEY not in repr(found)


def test_the_sandbox_needs_no_key(tmp_path: Path) -> None:
    found = _levels(Settings.from_env({"TASKGROUP_MCP_SANDBOX": "1"}, export_dir=tmp_path))
    assert "FAIL" not in found.values()
    assert any(text.startswith("mode: sandbox") for text in found)


def test_an_export_directory_that_cannot_be_written_is_a_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    found = _levels(Settings.from_env({"TASKGROUP_MCP_SANDBOX": "1"}, export_dir=blocker / "exports"))
    assert [t for t, level in found.items() if level == "FAIL"] == [
        f"export directory {blocker / 'exports'} is not writable: set TASKGROUP_MCP_EXPORT_DIR"
    ]


def test_a_named_mcp_server_whose_header_references_an_unset_variable_is_a_failure(tmp_path: Path) -> None:
    servers = {
        "crm": {"url": "https://crm.example/mcp", "headers": {"Authorization": "${CRM_TOKEN}"}},
        "wiki": {"url": "https://wiki.example/mcp", "headers": {"Authorization": "Bearer " + CANARY_KEY}},
    }
    env = {"TASKGROUP_MCP_SANDBOX": "1", "TASKGROUP_MCP_MCP_SERVERS": json.dumps(servers)}
    found = check_settings(Settings.from_env(env, export_dir=tmp_path), env)
    by_level = {f.text: f.level for f in found}
    assert by_level["MCP server 'crm': header references unset variable(s) CRM_TOKEN"] == "FAIL"
    assert by_level["MCP server 'wiki' configured (https://wiki.example/mcp)"] == "ok"
    assert CANARY_KEY not in repr(found)
    env["CRM_TOKEN"] = "set"
    assert all(f.level == "ok" for f in check_settings(Settings.from_env(env, export_dir=tmp_path), env))


@pytest.mark.anyio
async def test_check_without_a_key_fails_before_starting_anything() -> None:
    out = io.StringIO()
    report = await run_check(sandbox=None, environ={}, out=out)
    assert report.failed
    assert "server not started" in out.getvalue()
    assert out.getvalue().rstrip().endswith("Something needs fixing (see FAIL above).")


@pytest.mark.anyio
async def test_an_invalid_setting_names_the_variable_and_not_its_value() -> None:
    out = io.StringIO()
    report = await run_check(
        sandbox=None, environ={"TASKGROUP_MCP_SPEND_LIMIT_USD": "lots-" + CANARY_KEY}, out=out
    )
    assert report.failed
    assert "TASKGROUP_MCP_SPEND_LIMIT_USD" in out.getvalue()
    assert CANARY_KEY not in out.getvalue()
