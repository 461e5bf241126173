"""Each package's ``__all__`` is its public surface: what other layers and users need, nothing more.

A name is exported because code of another layer imports it (``server/``), or because users of the
package need it (listed below with the reason). Tests import private modules directly; a name
used only by tests is not public. ``__all__`` also lists exactly the public names the package
defines, so nothing public hides outside it.
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "server" / "taskgroup_mcp"
PACKAGES = ["wire", "client", "journal", "sandbox", "tools"]

FOR_USERS: dict[str, set[str]] = {
    # The error tree is the client's contract: callers catch these by class. Its constructor takes
    # a Backoff, a RetryBudget and a SubmitJournal; SubmitResult.failed holds SubmitFailures.
    "client": {
        "APIError",
        "APIResponseValidationError",
        "APIStreamError",
        "Backoff",
        "BadRequestError",
        "ConflictError",
        "FieldError",
        "InternalServerError",
        "NoJournal",
        "PermissionDeniedError",
        "RequestTimeoutError",
        "RetryBudget",
        "SubmitFailure",
        "SubmitJournal",
    },
    # Models a user of the client builds requests from or reads in results (fields of RunInput,
    # TaskRun, parse_event's union, get_processor's and schema_problems' results), and the helper
    # a webhook receiver checks signatures with.
    "wire": {
        "AdvancedSettings",
        "GenericEvent",
        "Processor",
        "SchemaProblem",
        "Warning",
        "Webhook",
        "verify_webhook",
    },
    # An embedded sandbox in a user's own tests: a clock to drive it, its store and divergences.
    "sandbox": {"Clock", "DIVERGENCES", "Divergence", "ManualClock", "SystemClock"},
    "tools": set(),
    "journal": set(),
}
USAGE_CHECKED = ["wire", "client", "journal", "sandbox", "tools"]


def _imported_from(package: str) -> set[str]:
    """Names that modules outside ``package`` (in server/) import from it."""
    found: set[str] = set()
    for path in PKG.rglob("*.py"):
        if path.is_relative_to(PKG / package):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                absolute = node.level == 0 and node.module == f"taskgroup_mcp.{package}"
                relative = node.level > 0 and node.module == package
                if absolute or relative:
                    found |= {alias.name for alias in node.names}
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == package
            ):
                found.add(node.attr)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_exactly_the_public_names_a_package_defines(package: str) -> None:
    module = importlib.import_module(f"taskgroup_mcp.{package}")
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert sorted(module.__all__) == sorted(public)
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("package", USAGE_CHECKED)
def test_every_exported_name_is_used_by_another_layer_or_by_users(package: str) -> None:
    module = importlib.import_module(f"taskgroup_mcp.{package}")
    unused = set(module.__all__) - _imported_from(package) - FOR_USERS[package]
    assert not unused, (
        f"taskgroup_mcp.{package} exports names no other layer imports: {sorted(unused)}. Drop them from "
        "__all__ (tests import private modules), or list them in FOR_USERS with the reason users need them."
    )


@pytest.mark.parametrize("package", USAGE_CHECKED)
def test_every_name_kept_for_users_is_exported(package: str) -> None:
    module = importlib.import_module(f"taskgroup_mcp.{package}")
    assert FOR_USERS[package] <= set(module.__all__)
