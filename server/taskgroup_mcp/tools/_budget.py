"""Token budgets that hold for any text: a cheap upper bound on what a client shows a model.

Byte-level BPE tokenizers (OpenAI's ``o200k_base`` and ``cl100k_base``, and those of the other
current model families) never make a token of less than one byte, so the UTF-8 length of a text
bounds its token count whatever the text is: CJK, emoji, combining marks, rare planes. Characters
/ 4 does not: a hostile run output of emoji or rare CJK costs 1 to 3 tokens per character.

What must be counted is everything the model may be shown, as the client renders it:

- the text block: shown as is by most clients, or embedded in JSON by some frameworks (which
  pass the whole result on as JSON), where every quote and backslash doubles and, with Python's
  default ``json.dumps``, every non-ASCII character becomes a ``\\uXXXX`` escape (6 bytes; 12
  for a character outside the BMP);
- ``structuredContent``: serialized by the client, as ``JSON.stringify`` (UTF-8, compact) or as
  ``json.dumps`` (ASCII escapes, ``", "`` and ``": "`` separators);
- both: some clients show the model both (OpenCode appends the structured JSON, Hermes
  combines the two), others only one of them.

Every result carries both (clients that read only the text block need it, and the declared
``outputSchema`` obliges ``structuredContent``), so a result is measured as a client showing
both in their most expensive rendering would show it: the ASCII-escaped JSON string of the text
plus the ASCII-escaped ``json.dumps`` of the structured content, plus :data:`FRAME_ALLOWANCE`.
An escaped form is never shorter in bytes than the UTF-8 form it escapes, so every rendering a
client may choose is within the bound. A client that shows one of the two sees at most about
half the budget: the price of a bound that holds for all of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp.types import ContentBlock

FRAME_ALLOWANCE = 100
"""Bytes for the frame a client may put around a result it passes on as JSON (its key names)."""


def json_text(value: Any) -> str:
    """Compact JSON, the form of a result's text block."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _escaped(value: Any) -> int:
    """Bytes of ``value`` as Python's ``json.dumps`` writes it by default (ASCII only, spaced)."""
    return len(json.dumps(value, ensure_ascii=True, default=str))


def value_tokens(value: Any) -> int:
    """The most tokens ``value`` can cost as one part of a result: its share of the structured
    content plus its share of the text block, each in its most expensive rendering."""
    return _escaped(value) + _escaped(json_text(value))


def result_tokens(structured: Any, extra: Sequence[ContentBlock] = ()) -> int:
    """The most tokens a result with this structured content (and a text block holding it as
    compact JSON, plus ``extra`` blocks) can cost a model, in any client."""
    blocks = sum(_escaped(block.model_dump(mode="json", by_alias=True, exclude_none=True)) for block in extra)
    return value_tokens(structured) + blocks + FRAME_ALLOWANCE


def text_tokens(text: str) -> int:
    """The most tokens a text-only result (an error) can cost a model, in any client."""
    return _escaped(text) + FRAME_ALLOWANCE


def cut_text(text: str, max_tokens: int, tail: str = "... [cut to fit the token budget]") -> str:
    """``text`` cut (at the end) so that :func:`text_tokens` of it is at most ``max_tokens``."""
    if text_tokens(text) <= max_tokens:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if text_tokens(text[:mid] + tail) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + tail
