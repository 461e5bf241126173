"""taskgroup_mcp.sandbox (being built)."""
