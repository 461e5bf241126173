"""The demo's own remote MCP server: a tiny 'company facts' lookup on 127.0.0.1.

The demo forwards it to every research run (``mcp_servers``), so the runs really call a tool
over streamable HTTP, as they would call a user's own MCP server. Every fact here is invented;
the companies are fictional.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

__all__ = [
    "COMPANIES",
    "CompanyFacts",
    "RunningFactsServer",
    "build_facts_server",
    "lookup",
    "serve_facts_server",
]

COMPANIES: tuple[str, ...] = (
    "Acme Robotics",
    "Bluefin Analytics",
    "Cobalt Health",
    "Driftwood Foods",
    "Ember Energy",
    "Fjord Logistics",
    "Granite Security",
    "Harbor Biotech",
    "Iris Optics",
    "Juniper Finance",
    "Kestrel Aerospace",
    "Lumen Education",
    "Mosaic Media",
    "Nimbus Cloudworks",
    "Orchid Pharma",
    "Pioneer Agritech",
    "Quarry Materials",
    "Redwood Insurance",
    "Sable Mobility",
    "Tundra Outdoor",
    "Umbra Semiconductors",
    "Vantage Retail",
    "Willow Water",
    "Xenon Labs",
    "Yarrow Wellness",
    "Zephyr Airlines",
)

INVENTED = "(invented demo data)"
_CITIES = ("Lisbon", "Oslo", "Austin", "Nairobi", "Osaka", "Toronto", "Lyon", "Pune", "Denver", "Tallinn")


class CompanyFacts(BaseModel):
    """Invented facts about one fictional company."""

    company: str
    founded_year: int
    headquarters: str
    employees: int

    def sentence(self) -> str:
        return (
            f"{self.company}: founded {self.founded_year} in {self.headquarters}, "
            f"{self.employees:,} employees {INVENTED}"
        )


def lookup(query: str) -> CompanyFacts | None:
    """The facts for the fictional company named anywhere in ``query``, or None."""
    folded = query.casefold()
    for company in COMPANIES:
        if company.casefold() in folded:
            digest = hashlib.sha256(company.encode()).digest()
            return CompanyFacts(
                company=company,
                founded_year=1950 + digest[0] % 70,
                headquarters=_CITIES[digest[1] % len(_CITIES)],
                employees=50 + int.from_bytes(digest[2:4], "big") % 20_000,
            )
    return None


def build_facts_server() -> MCPServer:
    """An MCPServer with one read-only tool, ``lookup_company``."""
    server = MCPServer(
        "company-facts",
        instructions="Invented facts about fictional companies, for the taskgroup-mcp demo.",
        log_level="WARNING",
    )

    @server.tool(
        title="Look up a company",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def lookup_company(  # pyright: ignore[reportUnusedFunction]
        query: str = Field(description="Text that names the company, e.g. a research question"),
    ) -> str:
        """Founding year, headquarters and head count of a company named in the query, in one line."""
        facts = lookup(query)
        if facts is None:
            raise ToolError(f"No record for that company. Known companies: {', '.join(COMPANIES)}.")
        return facts.sentence()

    return server


@dataclass(frozen=True)
class RunningFactsServer:
    url: str


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: Ctrl-C stays the demo's to handle."""

    @contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


@asynccontextmanager
async def serve_facts_server() -> AsyncGenerator[RunningFactsServer]:
    """Serve :func:`build_facts_server` over streamable HTTP on 127.0.0.1, a free port, until exit.

    The socket is bound and listening before this yields, so the URL answers at once.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = build_facts_server().streamable_http_app(stateless_http=True)
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                yield RunningFactsServer(url=f"http://127.0.0.1:{port}/mcp")
            finally:
                server.should_exit = True
    finally:
        sock.close()
