"""submit() under the fault mix: 20 seeds of dropped connections after commit, 503s before commit
and 429s, each profile landing every input exactly once.

Its own file so that the parallel suite runs these 60 submissions beside the rest of
``test_submit.py`` rather than after it (each takes 1-3 s on an idle machine). The 10,000-input,
250-per-chunk profile used to be skipped as a long profile; at about 2.4 s a seed it runs with the
others.
"""

from __future__ import annotations

import anyio
import pytest
from client_harness import FAULT_MIX, cid_counts, inputs, sandbox_client

SEEDS = range(20)


async def _submit_under_fault_mix(seed: int, chunk_size: int, n: int) -> None:
    async with sandbox_client(FAULT_MIX, seed=seed, chunk_size=chunk_size) as (sb, client):
        group = await client.create_task_group()
        with anyio.fail_after(60):
            result = await client.submit(group.taskgroup_id, inputs(n))
        counts = cid_counts(sb, group.taskgroup_id)
        assert sum(counts.values()) == n
        assert set(counts) == set(result.cids) and len(result.cids) == n
        assert max(counts.values()) == 1
        assert result.ok and result.added == n and not result.duplicates
        assert set(result.run_ids) == set(result.cids)
        assert sb.stats.faults["drop_after_commit"] + sb.stats.faults["fail_before_commit"] > 0


@pytest.mark.anyio
@pytest.mark.parametrize("seed", SEEDS)
async def test_ten_thousand_inputs_in_chunks_of_1000_land_exactly_once_under_the_fault_mix(seed: int) -> None:
    await _submit_under_fault_mix(seed, 1_000, 10_000)


@pytest.mark.anyio
@pytest.mark.parametrize("seed", SEEDS)
async def test_ten_chunks_of_250_land_exactly_once_under_the_fault_mix(seed: int) -> None:
    await _submit_under_fault_mix(seed, 250, 2_500)


@pytest.mark.anyio
@pytest.mark.parametrize("seed", SEEDS)
async def test_ten_thousand_inputs_in_chunks_of_250_land_exactly_once_under_the_fault_mix(seed: int) -> None:
    await _submit_under_fault_mix(seed, 250, 10_000)
