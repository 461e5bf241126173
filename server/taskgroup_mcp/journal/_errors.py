"""The journal's one exception: what went wrong, naming the setting to change, never a secret."""

from __future__ import annotations


class JournalError(Exception):
    """The journal could not read or write. ``message`` names the setting (``TASKGROUP_MCP_STATE_DIR``
    or ``TASKGROUP_MCP_DATABASE_URL``) and what to do; it never quotes a password.

    ``read_only``: reads still work (an unwritable state file), only writes fail.
    """

    def __init__(self, message: str, *, read_only: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.read_only = read_only

    def __str__(self) -> str:
        return self.message
