"""The sandbox: a wire-faithful emulator of Parallel's Task Group API, embedded in the package.

Shaped like moto: routes (HTTP parsing and serialization only) -> store (one interface, in
memory or SQLite) -> lifecycle and executor (runs move on an injectable clock; outputs are
deterministic per input and seed; real MCP tool calls; signed webhooks). Faults for reliability
tests and control routes live under ``/_sandbox/``. Every output says it is sandbox data.

    sb = Sandbox(SandboxConfig(speed=60.0, seed=0), clock=ManualClock())
    async with sb:  # the executor: transitions in real time, MCP tool calls, webhooks
        async with httpx2.AsyncClient(transport=sb.transport, base_url="http://sandbox") as http:
            ...
    sb.app  # the ASGI app, for uvicorn (``taskgroup-mcp sandbox`` serves it)

Modules: ``_routes`` (endpoints), ``_streams`` (what the SSE streams send), ``_control``
(``/_sandbox/`` routes), ``_edge`` (log line, stats, connection drops),
``_lifecycle`` (the service model: transitions on a heap, O(1) group counts), ``_executor``
(background work), ``_mcp`` (tool calls), ``_outputs`` (synthetic outputs), ``_store`` /
``_memory`` / ``_sqlite`` (state), ``_faults``, ``_transport`` (in-process httpx2 transport),
``_divergences`` (where the sandbox knowingly differs from the API).
"""

from ._clock import Clock, ManualClock, SystemClock
from ._config import SandboxConfig
from ._divergences import DIVERGENCES, Divergence
from ._faults import Faults
from ._sandbox import Sandbox, open_store

__all__ = [
    "DIVERGENCES",
    "Clock",
    "Divergence",
    "Faults",
    "ManualClock",
    "Sandbox",
    "SandboxConfig",
    "SystemClock",
    "open_store",
]
