"""The explorer in a real browser: headless Chromium, the official AppBridge as host, the real
server over streamable HTTP on 127.0.0.1 with the sandbox behind it.

Every test checks that the page logged no console error and that no request left for anywhere
but the host; each saves a screenshot per state under its tmp_path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_harness import LiveServer
from mcp import Client

SCHEMA = {
    "type": "object",
    "properties": {
        "hq": {"type": "string", "description": "headquarters city"},
        "founded": {"type": "integer", "description": "founding year"},
    },
}
COUNTRIES = ("FR", "DE", "US")


@dataclass
class Session:
    """One page of the test host with what it logged and requested."""

    page: Any
    shots: Path
    console_errors: list[str] = field(default_factory=lambda: [])
    requests: list[str] = field(default_factory=lambda: [])

    @property
    def app(self) -> Any:
        return self.page.frame_locator("#app")

    def frame(self) -> Any:
        return next(f for f in self.page.frames if f.parent_frame is not None)

    def host(self, expression: str) -> Any:
        return self.page.evaluate(f"() => window.hostState.{expression}")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"))

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.shot("timeout")
                pytest.fail(f"timed out waiting for {what}; host state: {self.host('error')}")
            self.page.wait_for_timeout(100)

    def calls(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.host("calls") if c["name"] == name]


@pytest.fixture
def open_host(chromium: Any, server: LiveServer, tmp_path: Path) -> Iterator[Callable[..., Session]]:
    contexts: list[Any] = []
    sessions: list[Session] = []

    def open_page(tool: str, args: dict[str, Any], **query: str) -> Session:
        context = chromium.new_context(viewport={"width": 1140, "height": 760})
        contexts.append(context)
        page = context.new_page()
        session = Session(page=page, shots=tmp_path)
        page.on("console", lambda m: session.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: session.console_errors.append(f"pageerror: {e}"))
        context.on("request", lambda r: session.requests.append(r.url))
        page.goto(server.host_url(tool, args, **query))
        session.wait_for(
            lambda: bool(session.host("ready")) or bool(session.host("error")), "the host to be ready"
        )
        assert session.host("error") is None
        sessions.append(session)
        return session

    yield open_page
    for context in contexts:
        context.close()
    for session in sessions:
        assert session.console_errors == []
        outside = [
            u
            for u in session.requests
            if not (u.startswith(server.base + "/") or u.startswith(("data:", "about:")))
        ]
        assert outside == [], "requests left the page for somewhere other than the host"


def seed(server: LiveServer, n: int, *, processor: str = "lite", inputs: list[Any] | None = None,
         output: Any = None, facts: bool = False) -> str:  # fmt: skip
    async def run(client: Client) -> str:
        created = await client.call_tool("create_task_group", {})
        gid = str(created.structured_content["task_group_id"])  # type: ignore[index]
        rows = inputs or [{"company": f"Company {i}", "country": COUNTRIES[i % 3]} for i in range(n)]
        args: dict[str, Any] = {
            "task_group_id": gid,
            "inputs": rows,
            "processor": processor,
            "output": output or SCHEMA,
        }
        if facts:
            args["mcp_servers"] = [
                {"name": "company_facts", "url": server.facts_url, "allowed_tools": ["lookup_company"]}
            ]
        added = await client.call_tool("add_runs", args)
        assert not added.is_error, added.content[0].text  # type: ignore[union-attr]
        return gid

    return server.call(run)


def wait_done(server: LiveServer, gid: str) -> dict[str, Any]:
    async def run(client: Client) -> dict[str, Any]:
        while True:
            waited = await client.call_tool(
                "wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 20}
            )
            status: dict[str, Any] = waited.structured_content["status"]  # type: ignore[index]
            if not status["active"]:
                return status

    return server.call(run)


@pytest.fixture(scope="module")
def finished_group(server: LiveServer) -> tuple[str, dict[str, Any]]:
    gid = seed(server, 200)
    return gid, wait_done(server, gid)


def text(locator: Any) -> str:
    return str(locator.text_content() or "")


def shown_rows(s: Session) -> int:
    return int(s.app.locator("#count").get_attribute("data-shown") or -1)


def visible_column(s: Session, label: str) -> list[str]:
    """The cells of one column in the rendered (visible) rows, top to bottom."""
    return s.frame().evaluate(
        """(label) => {
            const heads = Array.from(document.querySelectorAll('#head button')).map(b => b.textContent);
            const i = heads.indexOf(label);
            return Array.from(document.querySelectorAll('#rows .row'))
              .filter(r => r.getClientRects().length > 0)  // displayed, whatever the attributes say
              .sort((a, b) => Number(a.dataset.pos) - Number(b.dataset.pos))
              .map(r => r.children[i].textContent);
        }""",
        label,
    )


def all_run_ids_by_scrolling(s: Session) -> list[str]:
    """Scroll the virtualized table from top to bottom, collecting every rendered run id."""
    return s.frame().evaluate(
        """async () => {
            const grid = document.getElementById('grid');
            const seen = new Set();
            grid.scrollTop = 0;
            for (let guard = 0; guard < 2000; guard++) {
                await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                document.querySelectorAll('#rows .row').forEach(r => { if (r.getClientRects().length) seen.add(r.dataset.runId); });
                if (grid.scrollTop + grid.clientHeight >= grid.scrollHeight - 1) break;
                grid.scrollTop += grid.clientHeight - 40;
            }
            return Array.from(seen);
        }"""
    )


# ------------------------------------------------------------------------------------------ tests


def test_progress_reaches_100_percent_on_a_200_run_group_and_the_table_shows_every_row(
    open_host: Callable[..., Session], server: LiveServer
) -> None:
    gid = seed(server, 200, processor="base")  # 1-7 s per run at the test speed: progress is visible
    s = open_host("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 1})
    seen: list[float] = []

    def progressed() -> bool:
        pct = text(s.app.locator("#pct")).rstrip("%")
        if pct:
            seen.append(float(pct))
            if len(seen) == 1:
                s.shot("1-progress-live")
        return s.app.locator("body").get_attribute("data-state") == "done"

    s.wait_for(progressed, "the group to finish in the explorer", timeout=90)
    s.shot("2-progress-done")
    assert seen[-1] == 100.0 and min(seen) < 100.0, seen
    assert seen == sorted(seen), "progress never goes backwards"
    assert "200 of 200 runs done" in text(s.app.locator("#done"))
    counts = {
        t.rsplit(" ", 1)[0]: int(t.rsplit(" ", 1)[1])
        for t in s.app.locator("#chips .chip").all_text_contents()
    }
    assert sum(counts.values()) == 200 and counts.get("completed", 0) > 150
    assert text(s.app.locator("#count")) == "200 runs" and shown_rows(s) == 200
    ids = all_run_ids_by_scrolling(s)
    assert len(ids) == len(set(ids)) == 200
    assert s.app.locator("#rows .row").count() < 100, "the table renders only what is visible"
    heads = s.app.locator("#head button").all_text_contents()
    assert heads[:3] == ["status", "company", "country"] and {"hq", "founded"} <= set(heads)
    assert s.calls("read_group_rows") and s.calls("get_task_group_status")
    assert all(c["arguments"]["task_group_id"] == gid for c in s.calls("read_group_rows"))


def test_sorting_and_filtering_change_the_table(
    open_host: Callable[..., Session], finished_group: tuple[str, dict[str, Any]]
) -> None:
    gid, status = finished_group
    s = open_host("get_task_group_results", {"task_group_id": gid})
    s.wait_for(lambda: shown_rows(s) == 200, "every row")
    before = visible_column(s, "company")
    assert before[:3] == ["Company 0", "Company 1", "Company 2"]

    founded = s.app.locator("#head button", has_text="founded")
    founded.click()
    s.page.wait_for_timeout(150)
    ascending = [int(v) for v in visible_column(s, "founded") if v]
    assert ascending == sorted(ascending) and len(ascending) > 10
    assert founded.get_attribute("aria-sort") == "ascending"
    s.shot("3-sorted-ascending")
    founded.click()
    s.page.wait_for_timeout(150)
    descending = [int(v) for v in visible_column(s, "founded") if v]
    assert descending == sorted(descending, reverse=True) and descending[0] >= ascending[-1]

    s.app.locator("#search").fill("company 19")
    s.wait_for(lambda: shown_rows(s) == 11, "the text filter (Company 19 and 190-199)")
    companies = visible_column(s, "company")
    assert sorted(companies) == sorted(["Company 19", *(f"Company {n}" for n in range(190, 200))])
    s.shot("4-filtered-by-text")
    s.app.locator("#search").fill("")
    failed = status["counts"].get("failed", 0)
    assert failed > 0
    s.app.locator("#status").select_option("failed")
    s.wait_for(lambda: shown_rows(s) == failed, "the status filter")
    assert set(visible_column(s, "status")) == {"failed"}
    assert all(e.startswith("Sandbox") for e in visible_column(s, "error"))
    assert text(s.app.locator("#count")) == f"showing {failed} of 200 runs"
    s.shot("5-failed-runs-with-errors")


def test_a_rows_detail_shows_its_output_citations_and_tool_calls_and_links_open_through_the_host(
    open_host: Callable[..., Session], server: LiveServer
) -> None:
    gid = seed(server, 12, facts=True)  # each run asks the company-facts MCP server
    wait_done(server, gid)
    s = open_host("get_task_group_results", {"task_group_id": gid})
    s.wait_for(lambda: shown_rows(s) == 12, "every row")
    s.app.locator("#status").select_option("completed")
    s.app.locator("#rows .row").first.click()
    drawer = s.app.locator("#drawer")
    s.wait_for(lambda: drawer.locator(".citations a").count() >= 2, "the run's citations")
    s.shot("6-run-detail")
    assert s.calls("get_task_run")[-1]["arguments"]["include_tool_calls"] is True
    assert drawer.locator(".field .name").all_text_contents()[:2] == ["hq", "founded"]
    assert "confidence:" in text(drawer)
    assert "MCP tool calls (1)" in text(drawer)
    call = text(drawer.locator(".call").first)
    assert call.startswith("company_facts.lookup_company(") and "→" in call
    links = drawer.locator(".citations a")
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    assert all(h.startswith(("https://", "http://")) for h in hrefs)
    links.first.click()
    s.wait_for(lambda: len(s.host("openedLinks")) == 1, "ui/open-link")
    assert s.host("openedLinks") == [hrefs[0]]
    assert len(s.page.context.pages) == 1, "the app itself never opens a window"
    s.app.locator("#d-close").click()
    assert drawer.is_hidden()


def test_retry_asks_with_the_estimate_and_export_goes_through_the_tools(
    open_host: Callable[..., Session], server: LiveServer
) -> None:
    gid = seed(server, 60)
    status = wait_done(server, gid)
    failed = status["counts"].get("failed", 0)
    assert failed > 0
    s = open_host("get_task_group_results", {"task_group_id": gid})
    s.wait_for(lambda: shown_rows(s) == 60, "every row")
    retry = s.app.locator("#retry")
    assert text(retry) == f"Retry failed ({failed})"

    retry.click()
    modal = s.app.locator("#modal")
    s.wait_for(modal.is_visible, "the confirmation")
    s.shot("7-retry-confirmation")
    assert f"{failed} failed runs would be added" in text(modal) and "Estimated cost: about $" in text(modal)
    s.app.locator("#m-cancel").click()
    assert s.calls("retry_failed_runs") == [], "cancel submits nothing"
    assert "nothing was submitted" in text(s.app.locator("#message"))

    retry.click()
    s.wait_for(modal.is_visible, "the confirmation again")
    s.app.locator("#m-ok").click()
    s.wait_for(lambda: bool(s.calls("retry_failed_runs")), "retry_failed_runs")
    s.wait_for(lambda: "Retry:" in text(s.app.locator("#message")), "the retry's answer")
    estimate = s.calls("estimate_retry")[-1]
    call = s.calls("retry_failed_runs")[0]["arguments"]
    assert estimate["arguments"] == {"task_group_id": gid}
    assert call["task_group_id"] == gid and call["confirm_cost_usd"] >= failed * 0.005
    assert f"Retry: {failed} added" in text(s.app.locator("#message"))
    s.wait_for(lambda: shown_rows(s) == 60 + failed, "the retried runs in the table", timeout=90)
    s.shot("8-after-retry")

    s.app.locator("#export-csv").click()
    s.wait_for(lambda: len(s.host("downloads")) == 1, "the CSV download")
    s.app.locator("#export-jsonl").click()
    s.wait_for(lambda: len(s.host("downloads")) == 2, "the JSONL download")
    s.shot("9-exported")
    formats = [c["arguments"]["format"] for c in s.calls("export_task_group_results")]
    assert formats == ["csv", "jsonl"]
    csv_resource = s.host("downloads")[0]["contents"][0]["resource"]
    assert csv_resource["mimeType"] == "text/csv" and csv_resource["uri"].endswith(".csv")
    assert csv_resource["text"].startswith("key,run_id,status,error,output.hq,output.founded,input")
    jsonl = s.host("downloads")[1]["contents"][0]["resource"]["text"].splitlines()
    assert len(jsonl) == 60 + failed and {json.loads(line)["run_id"] for line in jsonl}
    assert len(list(server.export_dir.glob(f"{gid}-*.csv"))) == 1
    assert "Exported " in text(s.app.locator("#message"))


HOSTILE_INPUTS: list[Any] = [
    {"company": "<script>parent.hostPwned='input-script'</script>", "country": "FR"},
    {"company": "<img src=x onerror=\"parent.hostPwned='onerror'\">", "country": "DE"},
    {"company": "\u202eexe.tnemucod", "country": "<a href=\"javascript:parent.hostPwned='a'\">click</a>"},
]
HOSTILE_OUTPUT = {
    "type": "object",
    "properties": {
        "html": {"type": "string", "const": "<script>parent.hostPwned='output-script'</script><b>bold</b>"},
        "link": {"type": "string", "const": "javascript:parent.hostPwned='output-link'"},
        "img": {"type": "string", "const": "<img src=x onerror=\"parent.hostPwned='output-img'\">"},
        "svg": {"type": "string", "const": "<svg onload=\"parent.hostPwned='svg'\"></svg>\u202e"},
    },
}


def test_hostile_outputs_stay_text_and_only_http_links_open(
    open_host: Callable[..., Session], server: LiveServer
) -> None:
    gid = seed(server, 3, inputs=HOSTILE_INPUTS, output=HOSTILE_OUTPUT)
    wait_done(server, gid)
    s = open_host("get_task_group_results", {"task_group_id": gid}, tamper="1")
    s.wait_for(lambda: shown_rows(s) == 3, "every row")
    frame = s.frame()
    opened: list[str] = []
    for i in range(3):
        s.app.locator("#search").fill("")
        row = s.app.locator(f'#rows .row[data-pos="{i}"]')
        row.click()
        s.wait_for(
            lambda: (
                "MCP tool calls" in text(s.app.locator("#d-body"))
                or "Error" in text(s.app.locator("#d-body"))
            ),
            "the detail",
        )
        spans = s.app.locator("#d-body .citations span")
        links = s.app.locator("#d-body .citations a")
        if links.count():
            assert spans.count() >= 1, "the hostile citation is shown as text"
            for k in range(links.count()):
                links.nth(k).click()
            for k in range(spans.count()):
                spans.nth(k).click()
        s.shot(f"10-hostile-detail-{i}")
        s.app.locator("#d-close").click()
    opened = s.host("openedLinks")
    assert opened and all(u.startswith(("https://", "http://")) for u in opened), opened
    report = frame.evaluate(
        """() => ({
            pwned: window.hostPwned ?? null,
            scripts: document.scripts.length,
            imgs: document.querySelectorAll('img, svg, iframe, object, embed').length,
            handlers: Array.from(document.querySelectorAll('*')).flatMap(e => Array.from(e.attributes)
                .filter(a => a.name.startsWith('on')).map(a => a.name)),
            hrefs: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
            text: document.body.innerText,
        })"""
    )
    assert s.page.evaluate("() => window.hostPwned ?? null") is None
    assert report["pwned"] is None and report["scripts"] == 1 and report["imgs"] == 0
    assert report["handlers"] == [] and all(h.startswith(("https://", "http://")) for h in report["hrefs"])
    assert "<script>parent.hostPwned" in report["text"], "the markup is shown as text"
    assert "\u202e" not in report["text"], "bidi overrides are stripped"
    assert "javascript:parent.hostPwned" in report["text"]


def test_the_explorer_follows_the_host_theme_and_display_mode(
    open_host: Callable[..., Session], finished_group: tuple[str, dict[str, Any]]
) -> None:
    gid, _ = finished_group
    s = open_host("get_task_group_results", {"task_group_id": gid}, theme="dark")
    s.wait_for(lambda: shown_rows(s) == 200, "every row")
    colors = s.frame().evaluate(
        "() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color, "
        "document.documentElement.dataset.theme]"
    )
    assert colors == ["rgb(16, 20, 28)", "rgb(233, 238, 247)", "dark"]
    s.shot("11-dark-theme")
    assert s.host("sizes"), "the app reports its size"
    s.app.locator("#fullscreen").click()
    s.wait_for(lambda: s.host("displayModes") == ["fullscreen"], "ui/request-display-mode")
    s.wait_for(lambda: text(s.app.locator("#fullscreen")) == "Exit fullscreen", "fullscreen layout")
    s.shot("12-fullscreen")
    s.app.locator("#fullscreen").click()
    s.wait_for(lambda: s.host("displayModes") == ["fullscreen", "inline"], "back to inline")
