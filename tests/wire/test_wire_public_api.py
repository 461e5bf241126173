"""The package's curated surface: ``__all__`` lists exactly its public names (house style)."""

from __future__ import annotations

import types

import taskgroup_mcp.wire as wire


def public_names() -> set[str]:
    """Names a caller can import from the package: not private, not its own submodules."""
    return {
        name
        for name, value in vars(wire).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }


def test_all_lists_exactly_the_public_names_of_the_wire_package() -> None:
    assert sorted(wire.__all__) == sorted(public_names())


def test_all_has_no_duplicates_and_is_sorted_constants_first() -> None:
    assert len(set(wire.__all__)) == len(wire.__all__)
    constants = [name for name in wire.__all__ if name.isupper()]
    assert wire.__all__ == constants + sorted(
        set(wire.__all__) - set(constants), key=lambda n: (n[0].islower(), n)
    )


def test_every_exported_name_resolves_and_comes_from_the_wire_package() -> None:
    for name in wire.__all__:
        value = getattr(wire, name)
        if isinstance(value, type | types.FunctionType):
            assert value.__module__.startswith("taskgroup_mcp.wire."), (name, value.__module__)
