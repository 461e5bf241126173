"""Tool-argument fuzzing through the real MCP server (``mcp.Client`` in process, the sandbox behind).

Every invalid argument set is derived from the tool's real ``input_schema`` (as ``tools/list``
serves it): a required field dropped, a value of a JSON type the field does not accept, a number
out of its bounds, a string outside its enum, a hostile forwarded MCP server URL, oversized
metadata, deeply nested values. Each must come back as an ``is_error`` result that names the
offending field, quotes no value and shows no traceback; the one server answers a valid call
after all of them and no invalid call creates a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from adv_harness import LONG, TRACEBACK, Live, api_settings, data_of, live_server, new_sandbox, text_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CANARY = "CANARY-fuzz-7d1e0c5b9a"
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_LONG = settings(FUZZ, max_examples=2_000 if LONG else 40, derandomize=False)
"""`make test-long`: 2,000 invalid argument sets per tool (S7), a fresh random seed each run."""

HOSTILE_URLS = [
    "http://mcp.example.com/mcp",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.7/mcp",
    "https://10.255.1.2:8443/mcp",
    "https://[::1]/mcp",
    "https://[::ffff:127.0.0.1]/mcp",
    "https://[fd00:ec2::254]/",
    "https://2130706433/mcp",
    "https://0x7f000001/mcp",
    "https://0177.0.0.1/mcp",
    "https://127.1/mcp",
    "https://2852039166/latest",  # 169.254.169.254 as one decimal number
    "https://0xa9.0xfe.0xa9.0xfe/latest",
    "https://user:pass@mcp.example.com/mcp",
    "https://token@mcp.example.com/mcp",
    "https://localhost/mcp",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://192.168.1.1/mcp",
    "https://172.16.0.1/mcp",
    "https://0.0.0.0/mcp",
    "ftp://mcp.example.com/mcp",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "https:///nohost",
    "https://mcp.example.com:99999/mcp",
]

_BOOLISH = {"0", "1", "true", "false", "yes", "no", "on", "off", "t", "f", "y", "n"}


# --------------------------------------------------------------------------- schema reading


def accepted_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property's schema accepts (through anyOf); empty: anything."""
    if "anyOf" in schema:
        out: set[str] = set()
        for option in schema["anyOf"]:
            kinds = accepted_types(option)
            if not kinds:
                return set()
            out |= kinds
        return out
    kind = schema.get("type")
    if kind is None:
        return {"string"} if "enum" in schema else set()
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "integer" in kinds:
        kinds.add("number-integral")
    return kinds


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def lax_accepts(value: Any, kinds: set[str]) -> bool:
    """Would pydantic's lax mode take ``value`` for a field of these JSON types?"""
    kind = json_type(value)
    if kind in kinds or (kind == "integer" and "number" in kinds):
        return True
    numeric = kinds & {"integer", "number"}
    if numeric and kind == "boolean":
        return True
    if numeric and kind == "string":
        try:
            float(value)
            return True
        except ValueError:
            pass
    if "integer" in kinds and kind == "number" and float(value).is_integer():
        return True
    if "boolean" in kinds and kind == "string" and value.strip().lower() in _BOOLISH:
        return True
    return "boolean" in kinds and kind in ("integer", "number") and value in (0, 1)


# --------------------------------------------------------------------------- strategies

hostile_text = st.one_of(
    st.just(CANARY),
    st.text(min_size=0, max_size=40).map(lambda s: CANARY + s),
    st.lists(
        st.sampled_from(
            [
                "\x00",
                "\u202e",
                "\u200b",
                "\U000e0041",
                "\ufeff",
                "\U0010ffff",
                "é",
                "\u0301",
                "🙂",
                "'",
                '"',
                "\\",
                "/",
                "..",
                "%00",
                "{",
                "$",
            ]
        ),
        min_size=1,
        max_size=30,
    ).map("".join),
    st.sampled_from(["../../v1/tasks/runs", "%2e%2e%2f", "${HOME}", "tgrp_x/runs?x=1", "\r\nX-Evil: 1"]),
)


def nested(depth: int) -> Any:
    value: Any = CANARY
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "b", "url", "type"]), inner, max_size=4),
    ),
    max_leaves=12,
).filter(lambda v: not (isinstance(v, str) and CANARY not in v and not v))
wrong_values = st.one_of(
    json_values,
    st.sampled_from([10, 30, 200]).map(nested),
    st.just("x" * 200_000),
)


def mutation(
    tool: str, schema: dict[str, Any], base: dict[str, Any]
) -> st.SearchStrategy[tuple[dict[str, Any], str]]:
    """(invalid arguments, the field the error must name) for one tool."""
    props: dict[str, Any] = schema["properties"]
    required: list[str] = schema.get("required", [])
    options: list[st.SearchStrategy[tuple[dict[str, Any], str]]] = []
    if required:
        options.append(
            st.sampled_from(required).map(lambda name: ({k: v for k, v in base.items() if k != name}, name))
        )

    @st.composite
    def wrong_type(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
        name = draw(st.sampled_from(sorted(props)))
        kinds = accepted_types(props[name])
        if not kinds:  # pragma: no cover - every property of ours is typed
            kinds = {"string"}
        value = draw(wrong_values.filter(lambda v: not lax_accepts(v, kinds)))
        return {**base, name: value}, name

    options.append(wrong_type())

    bounded = {name: p for name, p in props.items() if {"minimum", "maximum", "exclusiveMinimum"} & set(p)}
    if bounded:

        @st.composite
        def out_of_bounds(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
            name = draw(st.sampled_from(sorted(bounded)))
            p = bounded[name]
            candidates: list[Any] = []
            if "minimum" in p:
                candidates += [p["minimum"] - 1, -(10**9)]
            if "exclusiveMinimum" in p:
                candidates += [p["exclusiveMinimum"], -1]
            if "maximum" in p:
                candidates += [p["maximum"] + 1, 10**12]
            return {**base, name: draw(st.sampled_from(candidates))}, name

        options.append(out_of_bounds())

    enums = {
        name: [e for o in p.get("anyOf", [p]) for e in o.get("enum", [])]
        for name, p in props.items()
        if any("enum" in o for o in p.get("anyOf", [p]))
    }
    if enums:

        @st.composite
        def bad_enum(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
            name = draw(st.sampled_from(sorted(enums)))
            value = draw(hostile_text.filter(lambda s: s not in enums[name]))
            return {**base, name: value}, name

        options.append(bad_enum())

    if "mcp_servers" in props:

        @st.composite
        def hostile_server(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
            url = draw(st.sampled_from(HOSTILE_URLS))
            headers = {"Authorization": f"Bearer {CANARY}"}
            return {**base, "mcp_servers": [{"url": url, "headers": headers}]}, "mcp_servers[0].url"

        options.append(hostile_server())
    if "metadata" in props:
        options.append(
            st.sampled_from(
                [
                    ({"k" * 17: "v"}, "metadata"),
                    ({"note": "v" * 513}, "metadata"),
                    ({"nested": {"a": 1}}, "metadata"),
                    ({f"k{i}": CANARY for i in range(2)} | {"deep": nested(50)}, "metadata"),
                ]
            ).map(lambda pair: ({**base, "metadata": pair[0]}, pair[1]))
        )
    if tool in ("add_runs", "fan_out"):
        options.append(
            st.sampled_from(
                [
                    ({"inputs": []}, "inputs"),
                    ({"inputs": ["x" * 30_000]}, "inputs"),
                    ({"inputs": ["q"], "processor": CANARY}, "processor"),
                    ({"inputs": ["q"], "metadata": {"mcp_cid": "forged"}}, "metadata"),
                    ({"inputs": ["q"], "source_policy": {"not_a_field": 1}}, "source_policy"),
                    ({"inputs": ["q"], "inputs_file": "/etc/passwd"}, "inputs_file"),
                    (
                        {"inputs": ["q"], "mcp_servers": [{"url": "https://m.example.com"}] * 11},
                        "mcp_servers",
                    ),
                    ({"inputs": ["q"], "mcp_servers": ["not-configured"]}, "mcp_servers[0]"),
                    (
                        {
                            "inputs": ["q"],
                            "mcp_servers": [
                                {"url": "https://m.example.com", "headers": {"a": "${TGMCP_UNSET_VAR}"}}
                            ],
                        },
                        "mcp_servers[0].headers.a",
                    ),
                ]
                + ([({"inputs": ["q", "r"], "runs": [{"index": 5}]}, "runs")] if tool == "add_runs" else [])
            ).map(lambda pair: ({**base, **pair[0]}, pair[1]))
        )
    return st.one_of(options)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with live_server(api_settings(tmp), new_sandbox()) as running:
        yield running


@pytest.fixture(scope="module")
def bases(live: Live) -> dict[str, dict[str, Any]]:
    """One valid argument set per tool; every mutation starts from it."""
    gid = data_of(live.call("create_task_group", {}))["task_group_id"]
    data_of(live.call("add_runs", {"task_group_id": gid, "inputs": ["seed question"]}))
    page = data_of(live.call("get_task_group_results", {"task_group_id": gid}))
    run_id = page["items"][0]["run_id"]
    dry = {"inputs": ["q"], "dry_run": True}
    return {
        "create_task_group": {},
        "add_runs": {"task_group_id": gid, **dry},
        "fan_out": {**dry, "wait_seconds": 0},
        "get_task_group_status": {"task_group_id": gid},
        "wait_for_task_group": {"task_group_id": gid, "timeout_seconds": 0.01},
        "get_task_group_results": {"task_group_id": gid},
        "get_task_run": {"run_id": run_id},
        "export_task_group_results": {"task_group_id": gid},
        "retry_failed_runs": {"task_group_id": gid},
    }


@pytest.fixture(scope="module")
def schemas(live: Live) -> dict[str, dict[str, Any]]:
    return {t.name: t.input_schema for t in live.list_tools().tools}


TOOLS = [
    "create_task_group",
    "add_runs",
    "fan_out",
    "get_task_group_status",
    "wait_for_task_group",
    "get_task_group_results",
    "get_task_run",
    "export_task_group_results",
    "retry_failed_runs",
]


def assert_rejected(result: Any, field: str, args: dict[str, Any]) -> None:
    text = text_of(result)
    shown = json.dumps(args)[:300]
    assert result.is_error, f"accepted: {shown}"
    assert field in text, f"{field!r} not named in {text[:400]!r} for {shown}"
    assert not TRACEBACK.search(text), text[:400]
    assert len(text) < 4_000, f"an error of {len(text)} chars for {shown}"
    for i in range(len(CANARY) - 7):
        assert CANARY[i : i + 8] not in text, f"the value was quoted back: {text[:400]!r}"


# --------------------------------------------------------------------------- tests


def fuzz_once(
    live: Live,
    bases: dict[str, dict[str, Any]],
    schemas: dict[str, dict[str, Any]],
    tool: str,
    data: st.DataObject,
) -> None:
    runs_before = live.sandbox.store.counts()[1]
    args, field = data.draw(mutation(tool, schemas[tool], bases[tool]), label="args")
    assert_rejected(live.call(tool, args), field, args)
    assert live.sandbox.store.counts()[1] == runs_before, "an invalid call created a run"


@pytest.mark.parametrize("tool", TOOLS)
@FUZZ
@given(data=st.data())
def test_every_invalid_argument_set_is_an_error_naming_the_field_with_no_value_or_traceback(
    live: Live,
    bases: dict[str, dict[str, Any]],
    schemas: dict[str, dict[str, Any]],
    tool: str,
    data: st.DataObject,
) -> None:
    fuzz_once(live, bases, schemas, tool, data)


@pytest.mark.slow
@pytest.mark.parametrize("tool", TOOLS)
@FUZZ_LONG
@given(data=st.data())
def test_two_thousand_invalid_argument_sets_per_tool_are_each_an_error_naming_the_field(
    live: Live,
    bases: dict[str, dict[str, Any]],
    schemas: dict[str, dict[str, Any]],
    tool: str,
    data: st.DataObject,
) -> None:
    fuzz_once(live, bases, schemas, tool, data)


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_hostile_forwarded_server_url_is_refused_in_the_call_and_in_a_per_run_override(
    live: Live, bases: dict[str, dict[str, Any]], url: str
) -> None:
    gid = bases["add_runs"]["task_group_id"]
    runs_before = live.sandbox.store.counts()[1]
    server = {"url": url, "headers": {"X-Key": CANARY}}
    for args, field in (
        ({"task_group_id": gid, "inputs": ["q"], "mcp_servers": [server]}, "mcp_servers[0].url"),
        (
            {"task_group_id": gid, "inputs": ["q", "r"], "runs": [{"index": 1, "mcp_servers": [server]}]},
            "mcp_servers[0].url",
        ),
        ({"inputs": ["q"], "mcp_servers": [server], "wait_seconds": 0}, "mcp_servers[0].url"),
    ):
        tool = "add_runs" if "task_group_id" in args else "fan_out"
        assert_rejected(live.call(tool, args), field, args)
    assert live.sandbox.store.counts()[1] == runs_before


@pytest.mark.parametrize(
    "tool",
    [
        "get_task_group_status",
        "wait_for_task_group",
        "get_task_group_results",
        "export_task_group_results",
        "retry_failed_runs",
        "add_runs",
    ],
)
@pytest.mark.parametrize(
    "group_id",
    [
        "../../runs",
        "../../../v1/tasks/runs",
        "tgrp_x/runs",
        "tgrp_x?status=failed",
        "x" * 100_000,
        "tgrp_\u202e\U000e0041",
        "",
    ],
)
def test_a_hostile_group_id_is_refused_naming_the_field_and_reaches_no_other_endpoint(
    live: Live, tool: str, group_id: str
) -> None:
    before = dict(live.sandbox.stats_json()["requests"])
    args: dict[str, Any] = {"task_group_id": group_id}
    if tool == "add_runs":
        args["inputs"] = ["q"]
    result = live.call(tool, args)
    assert result.is_error
    text = text_of(result)
    assert "task_group_id" in text, text[:300]
    assert not TRACEBACK.search(text) and "Internal error" not in text, text[:300]
    after = live.sandbox.stats_json()["requests"]
    touched = {endpoint for endpoint in after if after[endpoint] != before.get(endpoint)}
    assert not touched, f"a hostile id reached the API: {touched}"


def test_the_server_still_answers_a_valid_call_after_the_fuzzing(
    live: Live, bases: dict[str, dict[str, Any]]
) -> None:
    status = data_of(live.call("get_task_group_status", bases["get_task_group_status"]))
    assert status["task_group_id"] == bases["get_task_group_status"]["task_group_id"]
