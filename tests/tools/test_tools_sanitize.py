"""The secret registry: what the operator owns is masked for everyone, what a
call brings only in that call, and no caller can change what another one sees."""

from __future__ import annotations

import contextvars
import logging
import tracemalloc

import anyio
import pytest

from taskgroup_mcp.tools._sanitize import REDACTED, SecretRegistry, _SecretSet, install_log_redaction

KEY = "CANARY-opkey-4d5e6f7a8b9c"


def test_a_calls_own_secret_is_masked_in_that_call_and_forgotten_after_it() -> None:
    registry = SecretRegistry()
    with registry.call_scope() as scope:
        scope.add("completed")
        assert registry.redact({"status": "completed"}) == {"status": REDACTED}
    assert registry.redact({"status": "completed"}) == {"status": "completed"}
    assert registry.redact_text("completed") == "completed"


@pytest.mark.anyio
async def test_concurrent_calls_do_not_see_each_others_secrets() -> None:
    registry = SecretRegistry()
    seen: dict[str, str] = {}
    a_added = anyio.Event()
    b_done = anyio.Event()

    async def caller_a() -> None:
        with registry.call_scope() as scope:
            scope.add("tgrp_of_caller_b_123")
            a_added.set()
            await b_done.wait()
            seen["a"] = registry.redact_text("tgrp_of_caller_b_123")

    async def caller_b() -> None:
        await a_added.wait()
        with registry.call_scope():
            seen["b"] = registry.redact_text("tgrp_of_caller_b_123")
        b_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller_a)
        tg.start_soon(caller_b)
    assert seen == {"a": REDACTED, "b": "tgrp_of_caller_b_123"}


def test_the_operators_secrets_survive_any_number_of_call_secrets() -> None:
    registry = SecretRegistry()
    registry.add(KEY)
    for call in range(300):
        with registry.call_scope() as scope:
            for i in range(64):
                scope.add(f"throwaway-{call}-{i}-value")
    assert registry.redact_text(f"key {KEY}") == f"key {REDACTED}"
    assert registry.redact_pieces(f"part {KEY[3:15]}") == f"part {REDACTED}"


def test_a_per_request_key_is_masked_in_every_log_line_only_while_a_call_uses_it() -> None:
    registry = SecretRegistry()
    tenant = "CANARY-tenant-key-0a1b2c3d4e"
    elsewhere = contextvars.copy_context()  # another caller's context: no scope of this call
    with registry.call_scope() as scope:
        scope.add_key_in_use(tenant)
        assert registry.redact_text(tenant) == REDACTED  # this call's own output
        assert elsewhere.run(registry.redact_log_text, f"pool {tenant}") == f"pool {REDACTED}"
        assert elsewhere.run(registry.redact_text, tenant) == tenant  # another caller's result
    assert registry.redact_log_text(f"pool {tenant}") == f"pool {tenant}"


def test_a_secret_added_outside_any_call_scope_goes_nowhere() -> None:
    registry = SecretRegistry()
    assert registry.add_to_call("completed") is False
    assert registry.add_key_in_use("CANARY-tenant-key-0a1b2c3d4e") is False
    assert registry.redact_text("completed CANARY-tenant-key-0a1b2c3d4e") == (
        "completed CANARY-tenant-key-0a1b2c3d4e"
    )


def test_a_calls_secret_is_masked_in_log_lines_written_during_the_call(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskgroup_mcp.tools import SECRETS

    # Only this call's secret counts here: operator secrets that earlier tests in this worker
    # configured (process-wide by design) could mask a word of these lines too.
    monkeypatch.setattr(SECRETS, "_operator", _SecretSet())
    install_log_redaction()
    with SECRETS.call_scope() as scope, caplog.at_level(logging.INFO):
        scope.add("CANARY-hdr-in-call-9e8d7c")
        logging.getLogger("taskgroup_mcp.test").info("sent %s", "Bearer CANARY-hdr-in-call-9e8d7c")
        logging.getLogger("taskgroup_mcp.test").info("upstream said %s", "...hdr-in-call-9e8...")
    assert "hdr-in-call" not in caplog.text and caplog.text.count(REDACTED) == 2


def test_the_largest_call_a_caller_may_make_costs_a_few_megabytes_of_redaction_state() -> None:
    # 64 distinct values of 256 characters (16 KiB, the per-call bound), printable ASCII that
    # URL-encoding triples: the worst case for the encoded forms and their pieces.
    values = [(f'{i:03d}"%/ ' * 40)[:256] for i in range(64)]
    registry = SecretRegistry()
    tracemalloc.start()
    try:
        with registry.call_scope() as scope:
            for value in values:
                scope.add(value)
            assert registry.redact_log_text(f"x {values[5][20:60]} y") == f"x {REDACTED} y"
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * 1024 * 1024, f"{peak / 2**20:.1f} MiB"
