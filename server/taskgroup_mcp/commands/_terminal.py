"""Plain-text rendering for the commands people read: a progress bar and tables.

Pure functions return strings; :class:`ProgressLine` writes them to a stream, redrawing one line
in place on a terminal and printing a line per change when the output is a pipe or a file.
ASCII only, so any console encoding shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

__all__ = ["ProgressLine", "clip", "progress_bar", "table"]


def clip(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` characters, ending in '...' when cut."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    if width <= 3:
        return flat[:width]
    return flat[: width - 3] + "..."


def progress_bar(completed: float, total: float | None, width: int = 30) -> str:
    """``[##########..........]  12/24  50%``; without a total, the count alone."""
    done = max(0.0, completed)
    if not total or total <= 0:
        return f"[{'?' * width}]  {done:g} done"
    fraction = min(1.0, done / total)
    filled = int(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}]  {done:g}/{total:g}  {fraction:4.0%}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], max_width: int = 40) -> list[str]:
    """Lines of a left-aligned text table; cells are clipped to ``max_width``."""
    cells = [[clip(h, max_width) for h in headers]] + [
        [clip(str(c), max_width) for c in row] + [""] * (len(headers) - len(row)) for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(cells[0]), rule, *(line(r) for r in cells[1:])]


class ProgressLine:
    """A live progress bar fed by progress notifications.

    On a terminal the line is redrawn in place; otherwise a line is written only when the count
    changes, so a log of the demo stays short and readable.
    """

    def __init__(self, stream: TextIO, *, live: bool, label: str = "", width: int = 30) -> None:
        self._stream = stream
        self._live = live
        self._label = label
        self._width = width
        self._last_count: float | None = None
        self._last_len = 0
        self.updates = 0

    def update(self, completed: float, total: float | None, message: str | None = None) -> None:
        self.updates += 1
        text = f"{self._label}{progress_bar(completed, total, self._width)}"
        if message:
            text += "  " + clip(message, 60)
        if self._live:
            pad = max(0, self._last_len - len(text))
            self._stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
        elif completed != self._last_count:
            self._stream.write(text + "\n")
        self._last_count = completed
        self._stream.flush()

    def finish(self) -> None:
        if self._live and self._last_len:
            self._stream.write("\n")
            self._stream.flush()
        self._last_len = 0
