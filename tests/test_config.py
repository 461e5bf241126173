"""Settings from the environment: bad values are named, never echoed, and stop the command cleanly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from taskgroup_mcp.config import Settings, SettingsError


@pytest.mark.parametrize("raw,expected", [("1", True), ("on", True), ("No", False), ("0", False)])
def test_a_boolean_variable_takes_the_usual_spellings(raw: str, expected: bool) -> None:
    assert Settings.from_env({"TASKGROUP_MCP_SANDBOX": raw}).sandbox is expected


def test_a_boolean_variable_that_is_neither_is_an_error_naming_it() -> None:
    with pytest.raises(SettingsError, match="TASKGROUP_MCP_SANDBOX: must be one of"):
        Settings.from_env({"TASKGROUP_MCP_SANDBOX": "maybe"})


def test_an_invalid_value_names_its_variable_and_never_quotes_the_value() -> None:
    env = {
        "TASKGROUP_MCP_CHUNK_SIZE": "CANARY-not-a-number",
        "TASKGROUP_MCP_MCP_SERVERS": '{"crm": {"headers": {"Authorization": "CANARY-header-value"}}}',
    }
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    text = str(err.value)
    assert "TASKGROUP_MCP_CHUNK_SIZE" in text and "TASKGROUP_MCP_MCP_SERVERS: crm.url" in text
    assert "CANARY" not in text


def test_the_command_stops_with_one_line_and_exit_2_on_bad_settings() -> None:
    env = {"TASKGROUP_MCP_MCP_SERVERS": "{not json", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", "--sandbox"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "TASKGROUP_MCP_MCP_SERVERS: not valid JSON" in proc.stderr and "Traceback" not in proc.stderr
