"""Static bearer tokens for the HTTP transport, verified through the SDK's ``TokenVerifier`` protocol.

Tokens come from ``Settings.auth_tokens`` and, optionally, a file with one token per line (blank
lines and ``#`` comments ignored); the file is re-read when it changes, so a rotated Kubernetes
Secret takes effect without a restart. Candidates are compared by SHA-256 digest with
``hmac.compare_digest`` against every known token (no early exit). The ``AccessToken`` handed to
the SDK never holds the token itself: only a label naming which configured token matched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from taskgroup_mcp.tools import SECRETS

__all__ = ["MIN_TOKEN_LENGTH", "AuthSetupError", "BearerRequired", "StaticTokenVerifier", "read_token_file"]

logger = logging.getLogger("taskgroup_mcp.http.auth")

MIN_TOKEN_LENGTH = 16
"""Shorter bearer tokens are refused at startup (``openssl rand -hex 32`` gives 64 characters)."""

_PLACEHOLDER_PREFIX = "REPLACE-WITH"


class AuthSetupError(ValueError):
    """The configured tokens cannot be used; the message says why and never quotes a token."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _check(tokens: Sequence[str], where: str) -> None:
    for index, token in enumerate(tokens, start=1):
        if len(token) < MIN_TOKEN_LENGTH:
            raise AuthSetupError(
                f"bearer token {index} from {where} is shorter than {MIN_TOKEN_LENGTH} characters; "
                "use a long random value (for example `openssl rand -hex 32`)"
            )
        if token.startswith(_PLACEHOLDER_PREFIX):
            raise AuthSetupError(
                f"bearer token {index} from {where} is the example placeholder; set a real one"
            )


def read_token_file(path: Path) -> list[str]:
    """The tokens in ``path``: one per line, blank lines and ``#`` comments ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthSetupError(
            f"cannot read the auth tokens file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    tokens = [line.strip() for line in text.splitlines()]
    tokens = [t for t in tokens if t and not t.startswith("#")]
    _check(tokens, f"file {path}")
    return tokens


@dataclass(frozen=True)
class _Known:
    digest: bytes
    label: str


class StaticTokenVerifier(TokenVerifier):
    """Accepts exactly the configured tokens; the principal is ``token-<n>`` (settings) or ``file-<n>``."""

    def __init__(self, tokens: Sequence[SecretStr] = (), tokens_file: Path | None = None) -> None:
        plain = [t.get_secret_value() for t in tokens if t.get_secret_value()]
        _check(plain, "settings")
        for token in plain:
            SECRETS.add(token)  # the operator's: masked in every output, for every caller
        self._from_settings = [_Known(_digest(t), f"token-{i}") for i, t in enumerate(plain, start=1)]
        self._file = tokens_file
        self._file_stamp: tuple[int, int] | None = None
        self._from_file: list[_Known] = []
        if tokens_file is not None:
            self._load_file(tokens_file)
        if not self._from_settings and not self._from_file:
            raise AuthSetupError(
                "no bearer tokens configured" + (f" ({tokens_file} is empty)" if tokens_file else "")
            )

    @property
    def token_count(self) -> int:
        return len(self._from_settings) + len(self._from_file)

    def _load_file(self, path: Path) -> None:
        stat = path.stat() if path.exists() else None
        tokens = read_token_file(path)
        for token in tokens:
            SECRETS.add(token)
        self._from_file = [_Known(_digest(t), f"file-{i}") for i, t in enumerate(tokens, start=1)]
        self._file_stamp = (stat.st_mtime_ns, stat.st_size) if stat else None

    def _refresh_file(self) -> None:
        if self._file is None:
            return
        try:
            stat = self._file.stat()
        except OSError:
            return  # keep the tokens we have; a Secret volume swaps its symlink atomically
        if (stat.st_mtime_ns, stat.st_size) == self._file_stamp:
            return
        try:
            self._load_file(self._file)
        except AuthSetupError as exc:
            logger.warning("auth tokens file not reloaded, keeping the previous tokens: %s", exc)
            return
        logger.info("auth tokens file reloaded: %d token(s)", len(self._from_file))

    async def verify_token(self, token: str) -> AccessToken | None:
        self._refresh_file()
        candidate = _digest(token)
        matched: str | None = None
        for known in (*self._from_settings, *self._from_file):
            if hmac.compare_digest(candidate, known.digest) and matched is None:
                matched = known.label
        if matched is None:
            return None
        return AccessToken(token=f"static:{matched}", client_id=matched, scopes=[])


class BearerRequired:
    """401 for a request without a valid bearer token, in a form that asks for a header.

    Static tokens involve no OAuth authorization server, so the challenge names none: no
    ``resource_metadata`` (RFC 9728) to send a client into OAuth discovery and Dynamic Client
    Registration, which would end in a 404. ``Bearer realm=...`` alone tells a client, and the
    person configuring it, to send ``Authorization: Bearer <token>``.
    """

    def __init__(self, app: ASGIApp, realm: str = "taskgroup-mcp") -> None:
        self.app = app
        self.challenge = (
            f'Bearer realm="{realm}", error="invalid_token", '
            'error_description="send Authorization: Bearer <token> with a token the operator configured"'
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if isinstance(scope.get("user"), AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": "invalid_token",
                "error_description": "Authentication required: send the header Authorization: Bearer <token>, "
                "with a token from the server's TASKGROUP_MCP_AUTH_TOKENS (ask its operator). "
                "This server does not use OAuth.",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", self.challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
