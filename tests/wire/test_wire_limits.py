"""The documented limits: each one is named by the field it concerns, and its boundary passes."""

from __future__ import annotations

import inspect
import json
from typing import Any

import parallel.types.run_input_param as sdk_run_input_param
import parallel.types.shared_params.source_policy as sdk_source_policy
import parallel.types.task_group_add_runs_params as sdk_add_runs_params
import pytest

from taskgroup_mcp.wire import (
    MAX_MCP_SERVERS_PER_RUN,
    McpServer,
    RunInput,
    SourcePolicy,
    TaskSpec,
    add_runs_violations,
    run_input_violations,
)
from taskgroup_mcp.wire._limits import (
    MAX_INPUT_AND_SPEC_CHARS,
    MAX_INPUTS_PER_REQUEST,
    MAX_SOURCE_POLICY_DOMAINS,
    MAX_SPEC_CHARS,
    METADATA_KEY_MAX_CHARS,
    METADATA_VALUE_MAX_CHARS,
)


def run(**fields: Any) -> RunInput:
    return RunInput.model_validate(
        {"input": "What was the GDP of France in 2023?", "processor": "lite", **fields}
    )


def spec_of_chars(n: int) -> TaskSpec:
    """A task spec whose compact JSON is exactly ``n`` characters long."""
    overhead = len(json.dumps({"output_schema": ""}, separators=(",", ":")))
    spec = TaskSpec(output_schema="s" * (n - overhead))
    assert len(json.dumps(spec.to_wire(exclude_none=True), separators=(",", ":"))) == n
    return spec


def fields_of(violations: list[Any]) -> list[str]:
    return [violation.field for violation in violations]


def test_the_limits_are_the_documented_numbers_and_agree_with_the_sdk_docstrings() -> None:
    assert (MAX_INPUTS_PER_REQUEST, METADATA_KEY_MAX_CHARS, METADATA_VALUE_MAX_CHARS) == (1_000, 16, 512)
    assert (MAX_MCP_SERVERS_PER_RUN, MAX_INPUT_AND_SPEC_CHARS, MAX_SPEC_CHARS) == (10, 25_000, 15_000)
    assert MAX_SOURCE_POLICY_DOMAINS == 200
    assert f"Up to {MAX_INPUTS_PER_REQUEST:,} runs" in inspect.getsource(sdk_add_runs_params)
    assert (
        f"maximum length of {METADATA_KEY_MAX_CHARS} and {METADATA_VALUE_MAX_CHARS} characters"
        in " ".join(inspect.getsource(sdk_run_input_param).split())
    )
    assert f"cannot exceed {MAX_SOURCE_POLICY_DOMAINS}" in " ".join(
        inspect.getsource(sdk_source_policy).split()
    )


def test_a_plain_run_breaks_no_limit() -> None:
    assert run_input_violations(run()) == []


def test_a_thousand_inputs_pass_and_one_more_is_named_as_the_inputs_field() -> None:
    inputs = [run() for _ in range(MAX_INPUTS_PER_REQUEST)]

    assert add_runs_violations(inputs, None) == []
    violations = add_runs_violations([*inputs, run()], None)
    assert fields_of(violations) == ["body.inputs"]
    assert "1001" in violations[0].msg


def test_a_metadata_key_of_16_chars_passes_and_17_is_named_with_its_key() -> None:
    at_limit = "k" * METADATA_KEY_MAX_CHARS
    over = "k" * (METADATA_KEY_MAX_CHARS + 1)

    assert run_input_violations(run(metadata={at_limit: "v"})) == []
    assert fields_of(run_input_violations(run(metadata={over: "v"}))) == [f"metadata.{over}"]


def test_a_metadata_value_of_512_chars_passes_and_513_is_named_with_its_key() -> None:
    assert run_input_violations(run(metadata={"note": "v" * METADATA_VALUE_MAX_CHARS})) == []
    violations = run_input_violations(run(metadata={"note": "v" * (METADATA_VALUE_MAX_CHARS + 1)}))
    assert fields_of(violations) == ["metadata.note"]
    assert "v" * 20 not in violations[0].msg


def test_non_string_metadata_values_have_no_length_limit() -> None:
    assert run_input_violations(run(metadata={"n": 10**600, "f": 0.1, "b": True})) == []


def test_ten_mcp_servers_pass_and_eleven_are_named_as_the_mcp_servers_field() -> None:
    servers = [
        McpServer(name=f"s{i}", url=f"https://mcp{i}.example.com/mcp") for i in range(MAX_MCP_SERVERS_PER_RUN)
    ]

    assert run_input_violations(run(mcp_servers=servers)) == []
    extra = McpServer(name="one-more", url="https://more.example.com/mcp")
    assert fields_of(run_input_violations(run(mcp_servers=[*servers, extra]))) == ["mcp_servers"]


def test_a_spec_of_15000_chars_passes_and_15001_is_named_as_the_task_spec_field() -> None:
    short_input = run(input="x")

    assert (
        run_input_violations(short_input.model_copy(update={"task_spec": spec_of_chars(MAX_SPEC_CHARS)}))
        == []
    )
    over = short_input.model_copy(update={"task_spec": spec_of_chars(MAX_SPEC_CHARS + 1)})
    assert fields_of(run_input_violations(over)) == ["task_spec"]


def test_input_and_spec_of_25000_chars_together_pass_and_one_more_is_named_as_the_input_field() -> None:
    spec = spec_of_chars(10_000)
    at_limit = run(input="i" * (MAX_INPUT_AND_SPEC_CHARS - 10_000))

    assert run_input_violations(at_limit, default_task_spec=spec) == []
    over = run(input="i" * (MAX_INPUT_AND_SPEC_CHARS - 10_000 + 1))
    assert fields_of(run_input_violations(over, default_task_spec=spec)) == ["input"]
    assert fields_of(run_input_violations(over.model_copy(update={"task_spec": spec}))) == ["input"]


def test_an_object_input_counts_as_its_compact_json() -> None:
    obj = {"text": "i" * (MAX_INPUT_AND_SPEC_CHARS - len('{"text":""}'))}

    assert run_input_violations(run(input=obj)) == []
    assert fields_of(run_input_violations(run(input={**obj, "x": 1}))) == ["input"]


def test_a_run_input_without_a_spec_may_use_the_whole_25000_chars() -> None:
    assert run_input_violations(run(input="i" * MAX_INPUT_AND_SPEC_CHARS)) == []
    assert fields_of(run_input_violations(run(input="i" * (MAX_INPUT_AND_SPEC_CHARS + 1)))) == ["input"]


def test_a_default_task_spec_over_15000_chars_is_named_as_the_default_task_spec_field() -> None:
    assert add_runs_violations([run()], spec_of_chars(MAX_SPEC_CHARS)) == []
    violations = add_runs_violations([run()], spec_of_chars(MAX_SPEC_CHARS + 1))
    assert "body.default_task_spec" in fields_of(violations)


def test_a_runs_own_spec_overrides_the_default_in_the_size_limits() -> None:
    violations = add_runs_violations([run(task_spec=spec_of_chars(100))], spec_of_chars(MAX_SPEC_CHARS))

    assert violations == []


@pytest.mark.parametrize(("included", "excluded"), [(200, 0), (0, 200), (150, 50)])
def test_200_source_policy_domains_pass_and_201_are_named_as_the_source_policy_field(
    included: int, excluded: int
) -> None:
    def policy(n_in: int, n_out: int) -> SourcePolicy:
        return SourcePolicy(
            include_domains=[f"in{i}.example.com" for i in range(n_in)],
            exclude_domains=[f"out{i}.example.com" for i in range(n_out)],
        )

    assert run_input_violations(run(source_policy=policy(included, excluded))) == []
    over = policy(included + 1, excluded) if included else policy(included, excluded + 1)
    assert fields_of(run_input_violations(run(source_policy=over))) == ["source_policy"]


def test_each_input_of_an_add_runs_body_is_named_by_its_index() -> None:
    inputs = [run(), run(metadata={"k" * 17: "v"}), run(), run(input="i" * (MAX_INPUT_AND_SPEC_CHARS + 1))]

    violations = add_runs_violations(inputs, None)

    assert fields_of(violations) == [f"body.inputs.1.metadata.{'k' * 17}", "body.inputs.3.input"]
    assert all(v.type in {"string_too_long", "too_long"} for v in violations)


def test_a_run_breaking_every_limit_gets_one_violation_per_field() -> None:
    bad = run(
        input="i" * 20_000,
        metadata={"k" * 17: "v" * 513},
        mcp_servers=[{"name": f"s{i}", "url": "https://x.example.com/mcp"} for i in range(11)],
        task_spec=spec_of_chars(MAX_SPEC_CHARS + 1),
        source_policy={"include_domains": [f"d{i}.com" for i in range(201)]},
    )

    assert sorted(fields_of(run_input_violations(bad))) == sorted(
        [f"metadata.{'k' * 17}", f"metadata.{'k' * 17}", "mcp_servers", "task_spec", "input", "source_policy"]
    )
