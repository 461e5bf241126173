"""The tools, one module per concept; each tool is defined at its function (``@tool``).

- ``groups``: create_task_group, get_task_group_status, list_task_groups
- ``runs``: add_runs, retry_failed_runs (the tools that add billed runs)
- ``fan_out``: fan_out (groups, runs, follow and reading in one call)
- ``follow``: wait_for_task_group
- ``reading``: get_task_group_results, get_task_run, export_task_group_results
"""

from .fan_out import fan_out
from .follow import wait_for_task_group
from .groups import create_task_group, get_task_group_status, list_task_groups
from .reading import export_task_group_results, get_task_group_results, get_task_run
from .runs import add_runs, retry_failed_runs

TOOLS = [
    create_task_group,
    add_runs,
    fan_out,
    get_task_group_status,
    list_task_groups,
    wait_for_task_group,
    get_task_group_results,
    get_task_run,
    export_task_group_results,
    retry_failed_runs,
]
"""The tools in the order ``tools/list`` shows them."""

__all__ = ["TOOLS"]
