"""The demo's terminal rendering: clipped cells, a progress bar, aligned tables, a live line."""

from __future__ import annotations

import io

from taskgroup_mcp.commands._terminal import ProgressLine, clip, progress_bar, table


def test_clip_keeps_short_text_and_marks_what_it_cuts() -> None:
    assert clip("short", 10) == "short"
    assert clip("a long line of text", 10) == "a long ..."
    assert len(clip("x" * 100, 12)) == 12


def test_clip_puts_multi_line_text_on_one_line() -> None:
    assert clip("one\ntwo\t three", 40) == "one two three"


def test_the_progress_bar_fills_in_proportion_and_shows_the_count() -> None:
    assert progress_bar(0, 24, width=10) == "[..........]  0/24    0%"
    assert progress_bar(12, 24, width=10) == "[#####.....]  12/24   50%"
    assert progress_bar(24, 24, width=10) == "[##########]  24/24  100%"


def test_the_progress_bar_never_overflows_and_copes_without_a_total() -> None:
    assert progress_bar(30, 24, width=4).startswith("[####]")
    assert progress_bar(5, None, width=4) == "[????]  5 done"


def test_a_table_aligns_columns_and_clips_wide_cells() -> None:
    lines = table(["name", "value"], [["a", "1"], ["longer name", "x" * 50]], max_width=12)
    assert lines[0] == "name         value"
    assert lines[1] == "-----------  ------------"
    assert lines[2] == "a            1"
    assert lines[3] == "longer name  xxxxxxxxx..."


def test_a_short_row_is_padded_to_the_header() -> None:
    assert table(["a", "b"], [["1"]])[2] == "1"


def test_a_live_progress_line_redraws_in_place_and_ends_with_one_newline() -> None:
    out = io.StringIO()
    line = ProgressLine(out, live=True, width=4)
    line.update(1, 4, "first")
    line.update(4, 4)
    line.finish()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "[####]  4/4" in text.rsplit("\r", 1)[1]


def test_a_piped_progress_line_writes_a_line_only_when_the_count_changes() -> None:
    out = io.StringIO()
    line = ProgressLine(out, live=False, width=4)
    for done in (0, 0, 2, 2, 4):
        line.update(done, 4, "msg")
    line.finish()
    assert out.getvalue().count("\n") == 3
    assert line.updates == 5
