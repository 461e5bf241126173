"""Reading the id of a JSON-RPC frame that the parser gave up on, cheaply and within a bound."""

from __future__ import annotations

import pytest

from taskgroup_mcp.commands._rpc_frames import MAX_SCAN_STEPS, request_id

DEEP = "[" * 200_000 + "]" * 200_000


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":' + DEEP, 7),
        ('{"jsonrpc":"2.0","method":"x","params":' + DEEP + ',"id":"abc"}', "abc"),
        ('  {"method": "x", "id" : -3, "params": {"id": 99}}', -3),
        ('{"method":"x","params":{"id":99,"deep":' + DEEP + "}}", None),  # an id inside params is not the id
        ('{"method":"x","params":"\\"id\\": 5"}', None),  # nor is one inside a string
        ('{"id":8,"result":' + DEEP, None),  # a response: no method, nothing to answer
        ('{"method":"x","id":true}', None),
        ('{"method":"x","id":{"a":1}}', None),
        ('{"method":"x","id":1.5}', None),
        ("[" + DEEP, None),
        (b'{"method":"x","id":12,' + b"\xff" * 10 + b"}", 12),
    ],
)
def test_the_top_level_id_of_a_request_is_read_without_parsing_the_frame(
    frame: str | bytes, expected: int | str | None
) -> None:
    assert request_id(frame) == expected


def test_the_scan_stops_after_a_fixed_number_of_steps_whatever_the_frame() -> None:
    hostile = '{"method":"x","params":' + "[]" * (MAX_SCAN_STEPS * 2) + ',"id":5}'
    assert request_id(hostile) is None  # its id lies beyond the bound: not read, and the scan ended
