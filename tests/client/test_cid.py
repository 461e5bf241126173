"""Client ids: deterministic, order-free, distinct for intentional repeats, header values left out."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskgroup_mcp.client import RESERVED_METADATA_KEY, InputValidationError, ParallelClient
from taskgroup_mcp.client._cid import derive_cids
from taskgroup_mcp.wire import McpServer, RunInput, TaskSpec, TextSchema


def _inputs(n: int) -> list[RunInput]:
    return [RunInput(input=f"company {i}", processor="lite") for i in range(n)]


def test_the_same_call_gives_the_same_ids() -> None:
    assert derive_cids("tgrp_1", _inputs(5)) == derive_cids("tgrp_1", _inputs(5))


def test_ids_fit_the_metadata_limits() -> None:
    cids = derive_cids("tgrp_1", _inputs(3))
    assert all(len(c) == 26 and c.isalnum() for c in cids)
    assert len(RESERVED_METADATA_KEY) <= 16


def test_reordering_the_inputs_keeps_each_inputs_id() -> None:
    inputs = _inputs(6)
    forward = dict(zip((r.input for r in inputs), derive_cids("g", inputs), strict=True))
    backward_inputs = list(reversed(inputs))
    backward = dict(zip((r.input for r in backward_inputs), derive_cids("g", backward_inputs), strict=True))
    assert forward == backward


def test_identical_inputs_in_one_call_get_distinct_ids() -> None:
    same = [RunInput(input="x", processor="lite")] * 3
    assert len(set(derive_cids("g", same))) == 3


def test_group_call_key_processor_and_spec_each_change_the_ids() -> None:
    base = derive_cids("g", _inputs(2))
    assert derive_cids("h", _inputs(2)) != base
    assert derive_cids("g", _inputs(2), call_key="k") != base
    other_proc = [r.model_copy(update={"processor": "base"}) for r in _inputs(2)]
    assert derive_cids("g", other_proc, call_key="k") != derive_cids("g", _inputs(2), call_key="k")
    spec = TaskSpec(output_schema=TextSchema(description="one line"))
    assert derive_cids("g", _inputs(2), call_key="k", default_task_spec=spec) != derive_cids(
        "g", _inputs(2), call_key="k"
    )


def test_a_rotated_mcp_header_value_keeps_the_ids() -> None:
    def with_token(token: str) -> list[RunInput]:
        server = McpServer(name="crm", url="https://mcp.example.com/mcp", headers={"Authorization": token})
        return [RunInput(input="acme", processor="lite", mcp_servers=[server])]

    assert derive_cids("g", with_token("Bearer one")) == derive_cids("g", with_token("Bearer two"))


@pytest.mark.anyio
async def test_user_metadata_using_the_reserved_key_is_refused_before_sending() -> None:
    client = ParallelClient(api_key="k", base_url="http://127.0.0.1:9")
    bad = [RunInput(input="x", processor="lite", metadata={RESERVED_METADATA_KEY: "mine"})]
    with pytest.raises(InputValidationError) as info:
        await client.submit("tgrp_x", bad)
    assert RESERVED_METADATA_KEY in str(info.value)
    assert info.value.errors[0].field == f"inputs.0.metadata.{RESERVED_METADATA_KEY}"
    await client.aclose()


@pytest.mark.anyio
async def test_an_input_over_a_documented_limit_is_refused_before_sending() -> None:
    client = ParallelClient(api_key="k", base_url="http://127.0.0.1:9")
    bad = [*_inputs(2), RunInput(input="x" * 30_000, processor="lite")]
    with pytest.raises(InputValidationError) as info:
        await client.submit("tgrp_x", bad)
    assert info.value.errors[0].field == "inputs.2.input"
    assert "x" * 20 not in str(info.value)
    await client.aclose()


_texts = st.sampled_from(["acme", "globex", "initech", "umbrella"])
_procs = st.sampled_from(["lite", "base"])
_runs = st.lists(st.builds(lambda t, p: RunInput(input=t, processor=p), _texts, _procs), max_size=30)


@given(runs=_runs, seed=st.randoms(use_true_random=False))
def test_ids_are_unique_within_a_call_and_follow_their_input_under_any_order(
    runs: list[RunInput], seed: Any
) -> None:
    cids = derive_cids("g", runs)
    assert len(set(cids)) == len(cids)
    shuffled = list(runs)
    seed.shuffle(shuffled)
    by_input: dict[tuple[str, str], set[str]] = {}
    for run, cid in zip(runs, cids, strict=True):
        by_input.setdefault((str(run.input), run.processor), set()).add(cid)
    again: dict[tuple[str, str], set[str]] = {}
    for run, cid in zip(shuffled, derive_cids("g", shuffled), strict=True):
        again.setdefault((str(run.input), run.processor), set()).add(cid)
    assert again == by_input


@given(runs=_runs)
def test_a_longer_call_keeps_the_ids_of_the_inputs_it_shares_with_a_shorter_one(runs: list[RunInput]) -> None:
    """Adding inputs to a call (a corrected or extended retry) never changes the others' ids."""
    extended = [*runs, RunInput(input="new one", processor="lite")]
    assert derive_cids("g", extended)[: len(runs)] == derive_cids("g", runs)
