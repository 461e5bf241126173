"""Under ``make coverage``, the processes tests start with an environment of their own are measured too.

``coverage run`` with ``patch = subprocess`` puts its settings in ``COVERAGE_PROCESS_CONFIG`` (and
the data file in ``COVERAGE_FILE``), which a started Python process reads through the ``.pth`` file
coverage installs. Tests that start servers and CLIs with a hand-built environment (the SDK's stdio
client passes on only a few variables) would drop them: this adds them back to every explicit
environment given to :class:`subprocess.Popen` (which asyncio and anyio use too). Outside a
coverage run it does nothing.
"""

from __future__ import annotations

import functools
import os
import subprocess
from typing import Any

CARRIED = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START", "COVERAGE_FILE")


def carry_coverage_into_subprocesses() -> bool:
    """Patch ``subprocess.Popen`` when coverage is measuring subprocesses; True when it did."""
    carried = {name: os.environ[name] for name in CARRIED if name in os.environ}
    if "COVERAGE_PROCESS_CONFIG" not in carried and "COVERAGE_PROCESS_START" not in carried:
        return False
    original = subprocess.Popen.__init__

    @functools.wraps(original)
    def init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        env = kwargs.get("env")
        if env is not None:
            kwargs["env"] = {**carried, **env}
        original(self, *args, **kwargs)

    subprocess.Popen.__init__ = init  # type: ignore[method-assign]
    return True
