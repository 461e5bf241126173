"""``python -m taskgroup_mcp`` is the ``taskgroup-mcp`` command."""

from taskgroup_mcp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
