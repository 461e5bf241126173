"""Trace the path of one ``add_runs`` call through our package, and count how far it wanders.

    python scripts/trace_call_path.py            # figures, then the call tree
    python scripts/trace_call_path.py --json     # figures only, as JSON

An in-process server on the embedded sandbox (no socket) takes one warm-up call, then one traced
``add_runs`` with 3 inputs. Every function of ``taskgroup_mcp`` that runs for it (the sandbox
excluded: it stands in for the API) becomes a node of a call tree; a coroutine's first entry is a
call, its later resumptions are not. Work handed to a worker thread or a new task hangs under the
function that handed it over.

The figures (docs/architecture.md explains what they are for):
- functions: distinct functions that ran; files: distinct files they live in;
- switches: moves between files when the tree is read depth first (a call into another file,
  and the return from it);
- re-entries: calls into a file that is already further up the same path (a bounce: A calls B,
  B calls back into A);
- upcalls: calls from a lower layer into a higher one (e.g. the client calling a tools callback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import anyio.to_thread
from mcp import Client

import taskgroup_mcp
from taskgroup_mcp.commands._wiring import open_backend
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import SandboxConfig
from taskgroup_mcp.tools import build_server

PACKAGE = Path(taskgroup_mcp.__file__).resolve().parent
LAYERS = ["wire", "config", "client", "journal", "tools", "commands"]
"""Lowest first: a call from an earlier layer into a later one is an upcall."""


def _ours(frame: FrameType) -> str | None:
    """The file of ``frame`` relative to the package, when it is ours and not the sandbox."""
    filename = frame.f_code.co_filename
    if not filename.startswith(str(PACKAGE)):
        return None
    rel = Path(filename).resolve().relative_to(PACKAGE).as_posix()
    return None if rel.startswith("sandbox/") else rel


LOGGING = Path(logging.__file__).resolve()


def _outside(frame: FrameType) -> bool:
    """A sandbox frame (the API's side), or the logging module (log filters run from any call)."""
    filename = Path(frame.f_code.co_filename)
    return filename == LOGGING or (
        filename.is_relative_to(PACKAGE) and filename.relative_to(PACKAGE).parts[0] == "sandbox"
    )


def _layer(rel: str) -> str:
    return rel.split("/", 1)[0].removesuffix(".py")


@dataclass
class Node:
    file: str
    name: str
    children: list[Node] = field(default_factory=list["Node"])


OUTSIDE = Node("", "")
COMPREHENSIONS = {"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"}
"""Frames of their own in CPython 3.11, part of the function that holds them to a reader."""


class Tracer:
    def __init__(self) -> None:
        self.roots: list[Node] = []
        self._nodes: dict[int, Node] = {}
        self._frames: list[FrameType] = []  # kept alive so that ids stay unique
        self._handed_over: dict[int, Node] = {}  # task or thread id -> the node that started it
        self.active = False

    def _nearest(self, frame: FrameType | None) -> Node | None:
        """The innermost traced function at or above ``frame``; ``OUTSIDE`` when the sandbox or
        the logging machinery (a log filter) comes first: that work is not the call's path."""
        while frame is not None:
            node = self._nodes.get(id(frame))
            if node is not None:
                return node
            if _outside(frame):
                return OUTSIDE
            frame = frame.f_back
        return None

    def here(self) -> Node | None:
        """The innermost traced function on the caller's stack."""
        return self._nearest(sys._getframe(1))

    def profile(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call" or not self.active or id(frame) in self._nodes:
            return
        rel = _ours(frame)
        if rel is None or frame.f_code.co_name in COMPREHENSIONS:
            return
        parent = self._nearest(frame.f_back) or self._origin()
        if parent is OUTSIDE:
            return
        node = Node(rel, frame.f_code.co_qualname)
        (parent.children if parent is not None else self.roots).append(node)
        self._nodes[id(frame)] = node
        self._frames.append(frame)

    def _origin(self) -> Node | None:
        """For the first traced frame of a task or worker thread: who started it."""
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        if task is not None and id(task) in self._handed_over:
            return self._handed_over[id(task)]
        return self._handed_over.get(threading.get_ident())

    def hand_over(self, key: int, node: Node | None) -> None:
        if node is not None:
            self._handed_over[key] = node


def _walk(node: Node, stack: list[str], figures: dict[str, int], lines: list[str]) -> None:
    parent = stack[-1] if stack else None
    if parent is not None and node.file != parent:
        figures["switches"] += 2  # in, and back out on return
        if node.file in stack:
            figures["re-entries"] += 1
        callee, caller = _layer(node.file), _layer(parent)
        if callee in LAYERS and caller in LAYERS and LAYERS.index(callee) > LAYERS.index(caller):
            figures["upcalls"] += 1
    lines.append(f"{'  ' * len(stack)}{node.file}:{node.name}")
    stack.append(node.file)
    for child in node.children:
        _walk(child, stack, figures, lines)
    stack.pop()


def summarize(tracer: Tracer) -> tuple[dict[str, int], list[str]]:
    functions: set[tuple[str, str]] = set()
    files: set[str] = set()

    def collect(node: Node) -> None:
        functions.add((node.file, node.name))
        files.add(node.file)
        for child in node.children:
            collect(child)

    for root in tracer.roots:
        collect(root)
    figures = {"functions": len(functions), "files": len(files), "switches": 0, "re-entries": 0, "upcalls": 0}
    lines: list[str] = []
    for root in tracer.roots:
        _walk(root, [], figures, lines)
    return figures, lines


async def _call_add_runs(tracer: Tracer, tmp: Path) -> None:
    """One warm-up call, then the traced one: add_runs with 3 inputs on a fresh group."""
    settings = Settings.from_env({}, sandbox=True, export_dir=tmp / "exports", state_dir=tmp / "state")
    config = SandboxConfig(speed=2_000.0, seed=7)
    async with open_backend(settings, sandbox_config=config) as backend:
        server = build_server(backend.settings, backend.client_factory)
        async with Client(server) as client:
            warm = await client.call_tool("create_task_group", {})
            gid = (warm.structured_content or {})["task_group_id"]
            await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["warm-up"]})
            made = await client.call_tool("create_task_group", {})
            gid = (made.structured_content or {})["task_group_id"]
            inputs = ["Acme Corp", "Globex", "Initech"]
            sys.setprofile(tracer.profile)
            tracer.active = True
            try:
                result = await client.call_tool("add_runs", {"task_group_id": gid, "inputs": inputs})
            finally:
                tracer.active = False
                sys.setprofile(None)
            added = (result.structured_content or {}).get("added")
            if added != len(inputs):
                raise RuntimeError(f"add_runs did not add the 3 inputs: {result}")


async def trace_add_runs(tmp: Path) -> Tracer:
    tracer = Tracer()
    loop = asyncio.get_running_loop()
    default_factory = loop.get_task_factory()

    def task_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = (
            default_factory(loop, coro, **kwargs)
            if default_factory is not None
            else asyncio.Task(coro, loop=loop, **kwargs)
        )
        if tracer.active:
            tracer.hand_over(id(task), tracer.here())
        return task

    loop.set_task_factory(task_factory)  # type: ignore[arg-type]
    run_sync = anyio.to_thread.run_sync

    async def traced_run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        origin = tracer.here()

        def run() -> Any:
            tracer.hand_over(threading.get_ident(), origin)
            sys.setprofile(tracer.profile)
            try:
                return func(*args)
            finally:
                sys.setprofile(None)

        return await run_sync(run, **kwargs)

    anyio.to_thread.run_sync = traced_run_sync  # type: ignore[assignment]
    try:
        await _call_add_runs(tracer, tmp)
    finally:
        anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]
        loop.set_task_factory(default_factory)
    return tracer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print the figures only, as JSON")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tracer = asyncio.run(trace_add_runs(Path(tmp)))
    figures, lines = summarize(tracer)
    if args.json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return 0
    sys.stdout.write(", ".join(f"{k}: {v}" for k, v in figures.items()) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
