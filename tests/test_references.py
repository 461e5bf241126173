"""Code cites only documents that exist for its reader: docs/architecture.md or Parallel's public docs.

Design notes, specs and issue threads live outside this repository; a comment that points at them
(``DESIGN.md``, ``spec/...``, ``reliability-security.md``, "issue 11") sends the next engineer
nowhere. Say the point in the comment, or cite ``docs/architecture.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEARCHED = ("server", "tests", "scripts", "bench", "examples")
DANGLING = re.compile(
    r"DESIGN\.md|DESIGN notes|\bspec/[\w-]+\.md|reliability-security|parallel-api\.md|mcp-sdk-2\.md"
    r"|landscape\.md|\b[Ii]ssue #?\d+\b|\(issue\b"
)


def _sources() -> list[Path]:
    return [
        path
        for top in SEARCHED
        for path in sorted((ROOT / top).rglob("*"))
        if path.suffix in {".py", ".html", ".sh", ".md", ".toml", ".yaml"}
        and "node_modules" not in path.parts
        and path != Path(__file__).resolve()
    ]


def test_no_comment_or_docstring_cites_a_document_or_issue_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {match.group(0)}"
        for path in _sources()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if (match := DANGLING.search(line))
    ]
    assert not found, "cite docs/architecture.md or Parallel's public docs instead:\n" + "\n".join(found)


def test_the_pattern_catches_each_kind_of_dangling_reference() -> None:
    for text in (
        "see DESIGN.md",
        "(spec/reliability-security.md §2.3)",
        "(reliability-security.md S8)",
        "shared/spec/parallel-api.md",
        "(issue 11, item 1)",
        "Issue 14: samples",
    ):
        assert DANGLING.search(text), text
    for text in ("docs/architecture.md", "task_spec", "an issue with the API", "TaskSpec"):
        assert not DANGLING.search(text), text
