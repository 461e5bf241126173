"""``--file-report``: one line per test file instead of a row of dots (what ``make test`` shows).

A file's line is written when its last test finishes: its path, what its tests came to and the
time they took (setup, call and teardown added up). Under pytest-xdist the controller receives
every report, so the lines come out as files finish on any worker; with ``--dist loadfile`` a file
runs on one worker, in order. Failures and errors keep pytest's own summary and tracebacks at the
end; only the per-test letters are replaced.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Generator, Sequence
from typing import Any

import pytest

_ORDER = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class FileReport:
    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._expected: Counter[str] | None = None
        self._finished: Counter[str] = Counter()
        self._outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self._seconds: Counter[str] = Counter()
        self._test_outcome: dict[str, str] = {}
        self._written: set[str] = set()
        self._width = 60

    def _expect(self, nodeids: Sequence[str]) -> None:
        if self._expected is None:
            self._expected = Counter(_file_of(n) for n in nodeids)
            self._width = max((len(f) for f in self._expected), default=40) + 2

    # Where the list of tests comes from: the session itself, or (under xdist) the first worker.
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:
            self._expect([item.nodeid for item in session.items])

    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        self._expect(ids)

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> Generator[None, tuple[str, str, Any], tuple[str, str, Any]]:
        category, _letter, word = yield
        if config.get_verbosity() > 0:
            return category, _letter, word
        return category, "", ""  # no dot per test: the file's line says it all

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        self._seconds[_file_of(nodeid)] += report.duration
        current = self._test_outcome.get(nodeid)
        if report.when == "call":
            outcome = report.outcome
            if hasattr(report, "wasxfail"):
                outcome = "xfailed" if report.skipped else "xpassed"
            if current != "error":
                self._test_outcome[nodeid] = outcome
        elif report.failed:
            self._test_outcome[nodeid] = "error"
        elif report.skipped and current is None:
            self._test_outcome[nodeid] = "skipped"
        if report.when == "teardown":
            self._finish(nodeid)

    def _finish(self, nodeid: str) -> None:
        path = _file_of(nodeid)
        self._outcomes[path][self._test_outcome.pop(nodeid, "passed")] += 1
        self._finished[path] += 1
        if self._expected is not None and self._finished[path] >= self._expected[path]:
            self._write(path)

    def _write(self, path: str) -> None:
        if path in self._written:
            return
        self._written.add(path)
        counts = self._outcomes[path]
        summary = ", ".join(f"{counts[k]} {k}" for k in _ORDER if counts[k])
        markup = {"red": True} if counts["failed"] or counts["error"] else {"green": True}
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        reporter.ensure_newline()
        reporter.write(f"{path:<{self._width}}")
        reporter.write(f"{summary:<28}", **markup)
        reporter.write_line(f"{self._seconds[path]:6.1f} s")

    def pytest_sessionfinish(self) -> None:
        for path in sorted(set(self._finished) - self._written):  # a file cut short (-x, Ctrl-C)
            self._write(path)
