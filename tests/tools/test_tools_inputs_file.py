"""``inputs_file`` reads only what the operator allowed: the configured directories (default the
working directory) and below, no hidden file or directory, no symlink out of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from taskgroup_mcp.tools import ArgumentProblem
from taskgroup_mcp.tools._inputs import _open_below, read_inputs_file

ROWS = "company,country\nAcme,NL\nGlobex,DE\n"


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A working directory with data, and a home with secrets beside it."""
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "companies.csv").write_text(ROWS)
    (work / ".private").mkdir()
    (work / ".private" / "rows.csv").write_text(ROWS)
    (work / ".env.csv").write_text(ROWS)
    home = tmp_path / "home"
    home.mkdir()
    (home / "secrets.csv").write_text("name,value\nAPI_KEY,s3cr3t\n")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    return {"work": work, "home": home}


def _refusal(path: str, **kwargs: Any) -> str:
    with pytest.raises(ArgumentProblem) as caught:
        read_inputs_file(path, **kwargs)
    return str(caught.value)


def test_a_file_in_the_working_directory_is_read(layout: dict[str, Path]) -> None:
    assert read_inputs_file("data/companies.csv") == [
        {"company": "Acme", "country": "NL"},
        {"company": "Globex", "country": "DE"},
    ]
    assert len(read_inputs_file(str(layout["work"] / "data" / "companies.csv"))) == 2


def test_a_file_outside_the_allowed_directories_is_refused_naming_the_setting(
    layout: dict[str, Path],
) -> None:
    for path in (
        "~/secrets.csv",
        str(layout["home"] / "secrets.csv"),
        "../home/secrets.csv",
        "/etc/passwd.csv",
    ):
        message = _refusal(path)
        assert "TASKGROUP_MCP_INPUTS_DIRS" in message and str(layout["work"]) in message
    # The same answer whether the outside file exists or not: nothing is learnt about the disk.
    assert _refusal("~/secrets.csv") == _refusal("~/no-such-file.csv")


def test_hidden_files_and_directories_are_refused(layout: dict[str, Path]) -> None:
    for path in (".env.csv", ".private/rows.csv", "data/../.private/rows.csv"):
        assert "not hidden" in _refusal(path)


def test_a_symlink_out_of_the_allowed_directories_is_refused_and_one_within_is_followed(
    layout: dict[str, Path],
) -> None:
    work = layout["work"]
    (work / "data" / "leak.csv").symlink_to(layout["home"] / "secrets.csv")
    (work / "outside").symlink_to(layout["home"])
    (work / "data" / "alias.csv").symlink_to(work / "data" / "companies.csv")
    assert "TASKGROUP_MCP_INPUTS_DIRS" in _refusal("data/leak.csv")
    assert "TASKGROUP_MCP_INPUTS_DIRS" in _refusal("outside/secrets.csv")
    assert len(read_inputs_file("data/alias.csv")) == 2


def test_configured_directories_replace_the_working_directory(layout: dict[str, Path]) -> None:
    assert len(read_inputs_file("~/secrets.csv", inputs_dirs=[layout["home"]])) == 1
    assert str(layout["home"]) in _refusal("data/companies.csv", inputs_dirs=[layout["home"]])


def test_a_component_swapped_for_a_symlink_after_the_check_is_not_followed(layout: dict[str, Path]) -> None:
    work = layout["work"]
    (work / "swapped").symlink_to(layout["home"])
    with pytest.raises(OSError):
        os.close(_open_below(work, ("swapped", "secrets.csv")))
    (work / "data" / "swapped.csv").symlink_to(layout["home"] / "secrets.csv")
    with pytest.raises(OSError):
        os.close(_open_below(work, ("data", "swapped.csv")))
    os.close(_open_below(work, ("data", "companies.csv")))


@pytest.mark.anyio
async def test_add_runs_refuses_an_inputs_file_outside_the_working_directory(
    sandbox: Any, layout: dict[str, Path]
) -> None:
    async with sandbox(inputs_dirs=[]) as (client, _, _):  # the default: the working directory
        result = await client.call_tool(
            "add_runs", {"task_group_id": "tgrp_x", "inputs_file": "~/secrets.csv", "dry_run": True}
        )
        assert result.is_error, "the server read a file outside its working directory"
        assert (
            "inputs_file" in result.content[0].text and "TASKGROUP_MCP_INPUTS_DIRS" in result.content[0].text
        )
        ok = await client.call_tool(
            "add_runs", {"task_group_id": "tgrp_x", "inputs_file": "data/companies.csv", "dry_run": True}
        )
        assert not ok.is_error, ok.content[0].text
        assert ok.structured_content["estimate"]["runs"] == 2


def test_the_directories_come_from_the_environment_as_a_list() -> None:
    from taskgroup_mcp.config import Settings

    settings = Settings.from_env({"TASKGROUP_MCP_INPUTS_DIRS": "/srv/inputs, /data/csv"})
    assert settings.inputs_dirs == [Path("/srv/inputs"), Path("/data/csv")]
    assert Settings.from_env({}).inputs_dirs == []
