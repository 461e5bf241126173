"""One module per ``taskgroup-mcp`` subcommand; each exposes ``run(args) -> int``.

This is the wiring layer: it may start the sandbox and hand the MCP server a client pointed at
it. Nothing below (``tools``, ``client``, ``sandbox``, ``wire``) imports from here.
"""
