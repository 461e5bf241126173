"""Every response payload the official SDK 0.6.0 accepts, our models accept too, keeping its values.

Payloads are generated from the SDK's own response models (each required field, any subset of
the optional ones, ``null`` wherever the SDK allows it), checked to validate strictly in the SDK,
then parsed by our model: nothing may be rejected or dropped, and what we serialize again must
still validate in the SDK. Events go through ``parse_event`` and must not fall back to
``GenericEvent``.
"""

from __future__ import annotations

import datetime
import json
import types
import typing
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parallel import types as sdk
from parallel.types import shared as sdk_shared

from taskgroup_mcp import wire
from taskgroup_mcp.wire import WireModel, parse_event

texts = st.text(max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | texts,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(texts, inner, max_size=2),
    max_leaves=5,
)


def sdk_payloads(annotation: Any) -> st.SearchStrategy[Any]:
    """JSON values that the SDK type accepts, derived from its annotations."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return sdk_payloads(args[0])
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(sdk_payloads(arg) for arg in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(sdk_payloads(args[0]), max_size=2)
    if origin is dict:
        return st.dictionaries(texts, sdk_payloads(args[1]), max_size=2)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for name, field in annotation.model_fields.items():
            target = required if field.is_required() else optional
            target[field.alias or name] = sdk_payloads(field.annotation)
        return st.fixed_dictionaries(required, optional=optional)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        type(None): st.none(),
        str: texts,
        bool: st.booleans(),
        int: st.integers(-(2**31), 2**31),
        float: st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-1000, 1000),
        object: json_values,
        datetime.date: st.dates().map(datetime.date.isoformat),
    }
    return simple[annotation]


def kept(sent: Any, ours: Any, path: str = "") -> list[str]:
    """Paths where a non-null value the SDK accepted is not what our serialization carries."""
    if sent is None:
        return []
    if isinstance(sent, dict) and isinstance(ours, dict):
        return [p for key, value in sent.items() for p in kept(value, ours.get(key), f"{path}.{key}")]
    if isinstance(sent, list) and isinstance(ours, list) and len(sent) == len(ours):
        return [p for i, (a, b) in enumerate(zip(sent, ours, strict=True)) for p in kept(a, b, f"{path}.{i}")]
    same_kind = type(sent) is type(ours) or {type(sent), type(ours)} == {int, float}
    return [] if sent == ours and same_kind else [f"{path}: {sent!r} became {ours!r}"]


RESPONSE_PAIRS: list[tuple[type[WireModel], type[pydantic.BaseModel]]] = [
    (wire.TaskGroup, sdk.TaskGroup),
    (wire.TaskGroupRunResponse, sdk.TaskGroupRunResponse),
    (wire.TaskRun, sdk.TaskRun),
    (wire.TaskRunResult, sdk.TaskRunResult),
    (wire.RunInput, sdk.RunInput),
    (wire.ErrorResponse, sdk_shared.ErrorResponse),
]
EVENT_PAIRS: list[tuple[type[WireModel], type[pydantic.BaseModel]]] = [
    (wire.TaskGroupStatusEvent, sdk.TaskGroupStatusEvent),
    (wire.TaskRunEvent, sdk.TaskRunEvent),
    (wire.ErrorEvent, sdk.ErrorEvent),
    (wire.TaskRunProgressStatsEvent, sdk.TaskRunProgressStatsEvent),
    (wire.TaskRunProgressMessageEvent, sdk.TaskRunProgressMessageEvent),
]


def sdk_strict(sdk_type: Any, payload: Any) -> Any:
    return pydantic.TypeAdapter(sdk_type).validate_json(json.dumps(payload), strict=True)


@pytest.mark.parametrize(
    ("ours", "theirs"), RESPONSE_PAIRS, ids=[pair[0].__name__ for pair in RESPONSE_PAIRS]
)
def test_our_response_model_accepts_every_payload_the_sdk_accepts_and_keeps_its_values(
    ours: type[WireModel], theirs: type[pydantic.BaseModel]
) -> None:
    @settings(max_examples=80, deadline=None)
    @given(payload=sdk_payloads(theirs))
    def check(payload: dict[str, Any]) -> None:
        sdk_strict(theirs, payload)

        out = ours.model_validate(payload).to_wire()

        assert kept(payload, out) == []
        sdk_strict(theirs, out)

    check()


@pytest.mark.parametrize(("ours", "theirs"), EVENT_PAIRS, ids=[pair[0].__name__ for pair in EVENT_PAIRS])
def test_parse_event_reads_every_event_the_sdk_accepts_as_its_own_type(
    ours: type[WireModel], theirs: type[pydantic.BaseModel]
) -> None:
    @settings(max_examples=60, deadline=None)
    @given(payload=sdk_payloads(theirs))
    def check(payload: dict[str, Any]) -> None:
        sdk_strict(theirs, payload)

        event = parse_event(json.dumps(payload))

        assert type(event) is ours
        out = event.to_wire()
        assert kept(payload, out) == []
        sdk_strict(theirs, out)

    check()
