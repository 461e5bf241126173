"""taskgroup_mcp.client (being built)."""
