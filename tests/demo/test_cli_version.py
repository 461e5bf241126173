"""`taskgroup-mcp --version` names the installed version, as a user reporting a bug needs."""

from __future__ import annotations

import pytest

from taskgroup_mcp import __version__
from taskgroup_mcp.cli import main


def test_the_version_flag_prints_the_installed_version_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"taskgroup-mcp {__version__}"
    assert __version__ != "0.0.0+unknown"  # the package metadata is installed, not a bare source tree
