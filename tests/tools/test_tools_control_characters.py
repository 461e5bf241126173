"""Control characters from untrusted text never reach a model or a terminal.

A hostile API answer or run output (a forwarded tool, a poisoned page) carries terminal escape
sequences, BEL, NUL, backspace, DEL, C1 controls and Unicode line separators. Through every
channel a client shows (text block, structured content, error text) none of them arrives; line
breaks arrive as plain newlines.
"""

from __future__ import annotations

from taskgroup_mcp.tools import sanitize, strip_invisible


def test_strip_invisible_removes_terminal_sequences_and_controls_and_keeps_line_breaks() -> None:
    assert strip_invisible("\x1b[31mred\x1b[0m") == "red"
    assert strip_invisible("a\x07b\x00c\x08d\x7fe\x9ff") == "abcdef"
    assert strip_invisible("x\x1b]8;;https://evil\x1b\\click\x1b]8;;\x1b\\y") == "xclicky"
    assert strip_invisible("a\r\nb\rc\u2028d\u2029e\x85f\tg") == "a\nb\nc\nd\ne\nf\tg"
    assert sanitize({"k\x1b[1m": ["v\x00"]}) == {"k": ["v"]}
