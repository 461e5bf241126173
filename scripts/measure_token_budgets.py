"""Real o200k tokens of a first results page whose runs hold long emoji/CJK/English text.

    .venv/bin/python scripts/measure_token_budgets.py

Prints, per text and max_tokens, the tokens of the text block and of the most expensive way a
client may show the result (text block, structured content compact or ASCII-escaped, both, or the
whole result as JSON). Needs the dev extra (bpe-openai).
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "tools"))
logging.disable(logging.CRITICAL)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai

    O200K = bpe_openai.get_encoding("o200k_base")

from hostile_upstream import GROUP, Upstream, hostile_client  # noqa: E402

TEXTS = {
    "emoji + rare CJK": "\U0001f9ff\U00020000\U0002a6a5\U0001d54f" * 3000,
    "CJK": "中文字符漢字謝謝鬱齉龘" * 1200,
    "English": "The quick brown fox jumps over the lazy dog. " * 300,
}


def tokens(text: str) -> int:
    # bpe-openai refuses inputs over 200,000 tokens: count in pieces.
    return sum(len(O200K.encode_ordinary(text[i : i + 20_000])) for i in range(0, len(text), 20_000))


def renderings(result: Any) -> list[str]:
    text = "\n".join(str(getattr(block, "text", "")) for block in result.content)
    data = result.structured_content
    escaped = json.dumps(data)
    return [
        text,
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        escaped,
        text + "\n" + escaped,
        json.dumps({"content": [{"type": "text", "text": text}], "structuredContent": data}),
    ]


async def main() -> None:
    for name, text in TEXTS.items():
        for max_tokens in (8_000, 20_000):
            async with hostile_client(Upstream(runs=40, texts=[text])) as client:
                result = await client.call_tool(
                    "get_task_group_results", {"task_group_id": GROUP, "max_tokens": max_tokens}
                )
            shown = renderings(result)
            print(  # noqa: T201 - a script that reports figures
                f"{name:17} max_tokens={max_tokens:>6}: runs={result.structured_content['returned']:>3} "
                f"text block={tokens(shown[0]):>7} o200k, worst rendering={max(map(tokens, shown)):>7} o200k"
            )


if __name__ == "__main__":
    anyio.run(main)
