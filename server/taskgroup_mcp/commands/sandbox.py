"""``taskgroup-mcp sandbox``: the offline emulator of the Task Group API on a local port.

Writes ``taskgroup-mcp sandbox listening on http://HOST:PORT`` to stdout once it accepts
connections (with ``--port 0`` that is how callers learn the port), logs one line per request to
stderr, and exits 0 on SIGINT or SIGTERM after in-flight requests finish.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import socket
import sqlite3
import sys
from collections.abc import Generator
from pathlib import Path

import anyio
import uvicorn

from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import open_journal
from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig, open_store
from taskgroup_mcp.wire import TASK_CREATION_RATE_PER_MINUTE

from ._listen import ListenError, bound_port, listen
from ._wiring import SANDBOX_BASE_URL, sandbox_file

__all__ = ["run"]

log = logging.getLogger("taskgroup_mcp.sandbox")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (it re-raises the signal after shutdown), and an
    event set once it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = anyio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("httpx2", "httpcore", "mcp"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    rate: int | None = getattr(args, "rate_limit", None)
    return SandboxConfig(
        rate_limit_per_minute=TASK_CREATION_RATE_PER_MINUTE if rate is None else rate,
        speed=args.speed,
        seed=args.seed,
        fail_rate=args.fail_rate,
        db_path=args.db,
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        faults=Faults.parse(args.faults),
    )


async def serve(sandbox: Sandbox, host: str, port: int) -> None:
    sock = listen(host, port)
    chosen = bound_port(sock)
    server = _Server(
        uvicorn.Config(
            sandbox.app, host=host, port=chosen, log_level="warning", access_log=False, lifespan="off"
        )
    )
    async with sandbox, anyio.create_task_group() as tg:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    log.info("received %s; shutting down", signal.Signals(signum).name)
                    server.should_exit = True
                    return

        tg.start_soon(on_signal)

        async def announce() -> None:
            await server.ready.wait()
            shown = f"[{host}]" if ":" in host else host
            sys.stdout.write(f"taskgroup-mcp sandbox listening on http://{shown}:{chosen}\n")
            sys.stdout.flush()
            log.info(
                "sandbox on http://%s:%d (speed %g, seed %d, %s store); synthetic data",
                shown,
                chosen,
                sandbox.config.speed,
                sandbox.config.seed,
                "SQLite" if sandbox.config.db_path else "in-memory",
            )

        tg.start_soon(announce)
        await server.serve(sockets=[sock])
        tg.cancel_scope.cancel()


def reset(db: str | None) -> int:
    """Clear a sandbox file (``--db``, or the one ``--sandbox`` servers share) and what the journal
    recorded of its groups. Processes using it pick up the change on their next request."""
    settings = Settings.from_env()
    path = Path(db).expanduser() if db else sandbox_file(settings)
    if not path.exists():
        sys.stdout.write(f"nothing to clear: {path} does not exist\n")
        return 0
    try:
        store = open_store(str(path))
        groups, runs = store.counts()
        store.clear()
        store.close()
    except sqlite3.Error as exc:
        sys.stderr.write(
            f"taskgroup-mcp sandbox: {path} is not a sandbox file ({' '.join(str(exc).split())[:200]}); "
            "delete it to start over\n"
        )
        return 2
    if db is None:
        anyio.run(_forget_sandbox_groups, settings)
    sys.stdout.write(f"cleared the sandbox at {path} ({groups} groups, {runs} runs)\n")
    return 0


async def _forget_sandbox_groups(settings: Settings) -> None:
    journal = open_journal(settings)
    if journal is None:
        return
    await journal.start()
    try:
        await journal.forget_api(SANDBOX_BASE_URL)
    finally:
        await journal.close()


def run(args: argparse.Namespace) -> int:
    _configure_logging(args.log_level)
    if getattr(args, "reset", False):
        return reset(args.db)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        sys.stderr.write(f"taskgroup-mcp sandbox: {exc}\n")
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1") and config.api_key is None:
        log.warning(
            "the sandbox listens on %s with no --api-key: anyone who reaches it may add runs and "
            "use its control routes (reset, faults)",
            args.host,
        )
    sandbox = Sandbox(config)
    try:
        anyio.run(serve, sandbox, args.host, args.port)
    except ListenError as exc:  # one line, as serve says it, not a traceback
        sys.stderr.write(f"taskgroup-mcp sandbox: {exc}; pick another --port (0 picks a free one)\n")
        return 1
    finally:
        sandbox.close()
    return 0
