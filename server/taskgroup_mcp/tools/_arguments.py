"""Argument errors that name the field and never quote the value."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError


class ArgumentProblem(ValueError):
    """One or more invalid tool arguments; the message names each field and quotes no value."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__(format_problems(self.problems))


def field_path(loc: Iterable[Any], prefix: str = "") -> str:
    """``("inputs", 3, "metadata")`` -> ``inputs[3].metadata`` (optionally under ``prefix``)."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "arguments"


def format_problems(problems: Sequence[tuple[str, str]]) -> str:
    shown = [f"{field}: {msg}" for field, msg in problems[:8]]
    more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
    noun = "argument" if len(problems) == 1 else "arguments"
    return f"Invalid {noun}: " + "; ".join(shown) + more + "."


_TYPE_TAG = re.compile(r"^(str|int|float|bool|none|bytes|[a-z]+\[.*\])$")
"""How pydantic names the branch of a union in ``loc`` (``str``, ``dict[str,any]``)."""


def problems_from_validation(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """``(field, message)`` pairs built from ``loc`` and ``msg`` only: pydantic's ``str(exc)`` and
    ``errors()[i]["input"]`` carry the rejected values, which may be secrets. The errors of the
    branches of one union are merged into one problem for the field ("must be X or Y")."""
    merged: dict[str, list[tuple[str, str]]] = {}
    plain: list[tuple[str, str]] = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = [
            p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union")))
        ]
        msg = _safe_msg(err["type"], err["msg"])
        if len(loc) > 1 and isinstance(loc[-1], str) and _TYPE_TAG.match(loc[-1]):
            merged.setdefault(field_path(loc[:-1], prefix), []).append((field_path(loc, prefix), msg))
        else:
            plain.append((field_path(loc, prefix), msg))
    out = list(plain)
    for field, branches in merged.items():
        if len(branches) == 1:  # not a union after all (a key that looks like a type name)
            out.append(branches[0])
        else:
            kinds = [m.removeprefix("Input should be ") for m in dict.fromkeys(m for _, m in branches)]
            out.append((field, "must be " + " or ".join(kinds)))
    return out


def _safe_msg(kind: str, msg: str) -> str:
    # pydantic messages describe the constraint, not the value, except for a few types whose
    # message embeds the expected literal values (fine) or a custom ValueError text (ours).
    if kind in ("value_error", "assertion_error"):
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg
