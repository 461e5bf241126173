"""Static bearer tokens: which are accepted, what the SDK gets to see, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from taskgroup_mcp.commands._http_auth import AuthSetupError, StaticTokenVerifier, read_token_file

GOOD = "good-token-0123456789abcdef"
FILED = "filed-token-0123456789abcdef"

pytestmark = pytest.mark.anyio


async def test_a_configured_token_is_accepted_and_the_access_token_does_not_hold_it() -> None:
    verifier = StaticTokenVerifier([SecretStr(GOOD)])
    access = await verifier.verify_token(GOOD)
    assert access is not None
    assert access.client_id == "token-1"
    assert GOOD not in repr(access) and GOOD not in access.model_dump_json()


@pytest.mark.parametrize("candidate", ["", GOOD[:-1], GOOD + "x", GOOD.upper(), f"Bearer {GOOD}"])
async def test_anything_but_an_exact_token_is_refused(candidate: str) -> None:
    assert await StaticTokenVerifier([SecretStr(GOOD)]).verify_token(candidate) is None


async def test_file_tokens_skip_comments_and_blank_lines_and_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# ops team\n\n  {FILED}  \n", encoding="utf-8")
    assert read_token_file(path) == [FILED]
    access = await StaticTokenVerifier([], path).verify_token(FILED)
    assert access is not None and access.client_id == "file-1"


async def test_an_unreadable_rotation_keeps_the_previous_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(FILED + "\n", encoding="utf-8")
    verifier = StaticTokenVerifier([], path)
    path.write_text("short\n", encoding="utf-8")
    assert await verifier.verify_token(FILED) is not None
    assert await verifier.verify_token("short") is None


def test_no_tokens_at_all_is_a_setup_error(tmp_path: Path) -> None:
    empty = tmp_path / "tokens"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(AuthSetupError, match="no bearer tokens"):
        StaticTokenVerifier([], empty)
