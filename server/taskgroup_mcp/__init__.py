"""taskgroup-mcp: fan research out into Parallel Task Group runs from any MCP client.

Layers (imports flow downward only): ``cli`` -> ``commands`` -> ``tools`` -> ``journal`` ->
``client`` -> ``wire``, and ``commands`` -> ``sandbox`` -> ``wire``. docs/architecture.md
describes them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("parallel-taskgroup-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
