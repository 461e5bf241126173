"""Masking of secrets the client knows of (the API key, forwarded MCP header values).

Defence in depth: messages are built so that they should not carry a secret in the first place;
this catches an API that echoes one back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "[REDACTED]"
MIN_SECRET_CHARS = 4


def secret_forms(secret: str) -> set[str]:
    """The forms a secret can be re-encoded to on its way into text: raw, JSON-escaped,
    URL-encoded (both styles), base64 and hex. Every redaction point masks all of them."""
    raw = secret.encode("utf-8")
    return {
        secret,
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode("ascii").rstrip("="),
        raw.hex(),
    }


def _forms(secret: str) -> set[str]:
    return {f for f in secret_forms(secret) if len(f) >= MIN_SECRET_CHARS}


class Redactor:
    """Replaces every known secret (raw, JSON-escaped, URL-encoded, base64, hex) with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        found = set(self._forms)
        for s in secrets:
            if s and len(s) >= MIN_SECRET_CHARS:
                found |= _forms(s)
        self._forms = sorted(found, key=len, reverse=True)

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        """A copy that also knows ``secrets``."""
        other = Redactor()
        other._forms = list(self._forms)
        other.add(secrets)
        return other

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._forms)} forms)"
