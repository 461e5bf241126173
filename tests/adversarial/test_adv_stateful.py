"""Stateful property test: hypothesis drives the real MCP server
and the sandbox through sequences of add_runs batches, fault changes, server restarts (a new
``build_server`` and client on the same sandbox), repeated earlier calls and result reads.

At rest (faults off, every call so far repeated until it succeeds) the group holds exactly one
run per intended input, every client id once, and the paged results list each run once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from adv_harness import LONG, api_settings, mcp_client, text_of
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule

from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig

FAULT_MIXES = {
    "none": Faults(),
    "outage": Faults(fail_before_commit=1.0),
    "flaky": Faults(fail_before_commit=0.3, throttle=0.2, retry_after=0.01),
    "drops": Faults(drop_after_commit=0.5),
    "mixed": Faults(drop_after_commit=0.2, fail_before_commit=0.2, throttle=0.1, retry_after=0.01),
    "slow_drops": Faults(drop_after_commit=0.3, latency_ms=(5.0, 30.0)),
}
# Not in the mixes: ``commit_delay_ms`` (runs visible to reads only later). A repeat inside the
# lag from the same process is covered by test_adv_read_lag.py (the client remembers the run ids
# the API answered); a *restarted* server repeating a call inside the lag has no such memory and
# can still send a run twice: a known limit (it needs a settle before the first scan of a group).
WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Acme"]
inputs_strategy = st.lists(
    st.one_of(st.sampled_from(WORDS), st.fixed_dictionaries({"company": st.sampled_from(WORDS)})),
    min_size=1,
    max_size=12,
)


class TaskGroupMachine(RuleBasedStateMachine):
    calls = Bundle("calls")

    def __init__(self) -> None:
        super().__init__()
        self._tmp = Path(self._tmp_root)
        self._portal_cm = start_blocking_portal()
        self.portal: BlockingPortal = self._portal_cm.__enter__()
        self.settings = api_settings(self._tmp, chunk_size=4, submit_concurrency=2, settle_seconds=0.05)
        self.sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=21))
        self._sandbox_cm = self.portal.wrap_async_context_manager(self.sandbox)
        self._sandbox_cm.__enter__()
        self._client_cm: Any = None
        self.client: Any = None
        self._start_server()
        self.gid = ""
        self.intended: set[tuple[str, str, int]] = set()
        """(call key, input, occurrence in its call): the product's identity of an input (its client
        id hashes the group, the call key, the canonical input and the occurrence)."""
        self.made: list[str] = []
        """Every distinct add_runs call so far (its arguments as JSON)."""
        self.restarts = 0

    _tmp_root = "/tmp"

    def _start_server(self) -> None:
        self._client_cm = self.portal.wrap_async_context_manager(mcp_client(self.settings, self.sandbox))
        self.client = self._client_cm.__enter__()

    def _stop_server(self) -> None:
        self._client_cm.__exit__(None, None, None)

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        return self.portal.call(self.client.call_tool, tool, args)

    @initialize()
    def create_group(self) -> None:
        result = self.call("create_task_group", {})
        assert not result.is_error, text_of(result)
        self.gid = result.structured_content["task_group_id"]

    @rule(target=calls, inputs=inputs_strategy, call_key=st.sampled_from([None, "k1", "k2"]))
    def add_batch(self, inputs: list[Any], call_key: str | None) -> str:
        args: dict[str, Any] = {"task_group_id": self.gid, "inputs": inputs}
        if call_key is not None:
            args["call_key"] = call_key
        key = json.dumps(args, sort_keys=True)
        seen: dict[str, int] = {}
        for item in inputs:
            canonical = json.dumps(item, sort_keys=True)
            self.intended.add((call_key or "", canonical, seen.get(canonical, 0)))
            seen[canonical] = seen.get(canonical, 0) + 1
        if key not in self.made:
            self.made.append(key)
        result = self.call("add_runs", args)
        self._check_answer(result)
        return key

    @rule(key=calls)
    def repeat_an_earlier_call(self, key: str) -> None:
        self._check_answer(self.call("add_runs", json.loads(key)))

    @rule(mix=st.sampled_from(sorted(FAULT_MIXES)))
    def change_faults(self, mix: str) -> None:
        self.sandbox.set_faults(FAULT_MIXES[mix])

    @rule()
    def restart_server(self) -> None:
        self._stop_server()
        self._start_server()
        self.restarts += 1

    @rule()
    def read_results(self) -> None:
        run_ids = self._all_result_run_ids()
        assert len(run_ids) == len(set(run_ids)), "a run listed twice in the results"

    @rule()
    def quiesce_and_check(self) -> None:
        self._at_rest()

    def teardown(self) -> None:
        try:
            self._at_rest()
        finally:
            self._stop_server()
            self._sandbox_cm.__exit__(None, None, None)
            self.sandbox.close()
            self._portal_cm.__exit__(None, None, None)

    # ------------------------------------------------------------------ helpers

    def _check_answer(self, result: Any) -> None:
        """Under faults a call may fail, but only as an error that says to call again."""
        if result.is_error:
            text = text_of(result)
            assert "again" in text, text
            return
        data = result.structured_content
        assert data["added"] + data["already_present"] + data["failed_total"] >= 1

    def _all_result_run_ids(self) -> list[str]:
        ids: list[str] = []
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"task_group_id": self.gid, "limit": 200}
            if cursor:
                args["cursor"] = cursor
            page = self.call("get_task_group_results", args)
            assert not page.is_error, text_of(page)
            ids += [item["run_id"] for item in page.structured_content["items"]]
            cursor = page.structured_content.get("next_cursor")
            if not cursor:
                return ids

    def _at_rest(self) -> None:
        if not self.gid:
            return
        self.sandbox.set_faults(Faults())
        for key in self.made:
            result = self.call("add_runs", json.loads(key))
            assert not result.is_error, text_of(result)
            assert result.structured_content["failed_total"] == 0
        runs = self.sandbox.store.group_runs(self.gid, -1, None, 1_000_000)
        cids = [str((r.input.metadata or {}).get("mcp_cid")) for r in runs]
        expected = len(self.intended)
        assert len(cids) == len(set(cids)), (
            f"a client id on more than one run: {len(cids) - len(set(cids))} duplicates"
        )
        assert len(cids) == expected, f"{len(cids)} runs for {expected} intended inputs"
        listed = self._all_result_run_ids()
        assert sorted(listed) == sorted(r.run_id for r in runs)


FAST = settings(
    max_examples=4,
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
LONG_PROFILE = settings(
    max_examples=50,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _machine(tmp_path: Path) -> type[TaskGroupMachine]:
    return type("Machine", (TaskGroupMachine,), {"_tmp_root": str(tmp_path)})


def test_add_runs_under_faults_restarts_and_repeats_ends_with_one_run_per_intended_input(
    tmp_path: Path,
) -> None:
    machine = _machine(tmp_path)
    machine.TestCase.settings = FAST
    machine.TestCase().runTest()


@pytest.mark.slow
def test_the_long_profile_of_the_state_machine_holds_the_same_invariant(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    machine.TestCase.settings = LONG_PROFILE if LONG else FAST
    machine.TestCase().runTest()
