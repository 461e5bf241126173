"""taskgroup_mcp.tools (being built)."""
