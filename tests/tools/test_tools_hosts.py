"""Where a forwarded MCP server may be: hosts read as a WHATWG URL parser
reads them, names resolved at call time through an injected resolver (tests never use DNS)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from mcp import Client

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.commands._wiring import SANDBOX_BASE_URL
from taskgroup_mcp.config import NamedMcpServer, Settings
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig
from taskgroup_mcp.tools import ArgumentProblem, build_server
from taskgroup_mcp.tools._forwarding import check_url, resolve_mcp_servers
from taskgroup_mcp.tools._hosts import Lookups, parse

STRICT = Settings()
LOOSE = Settings(allow_http_mcp_urls=True, allow_private_mcp_urls=True)
PUBLIC = "93.184.215.14"


def answers(table: dict[str, Sequence[str]], calls: list[str] | None = None) -> Lookups:
    """Lookups whose resolver answers from ``table`` (a missing name does not resolve)."""

    def resolver(host: str, timeout: float) -> Sequence[str]:
        assert 0 < timeout <= 5
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return Lookups(resolver=resolver)


@pytest.mark.parametrize(
    "url",
    [
        "https://127\u30020\u30020\u30021/mcp",  # ideographic full stops
        "https://127\uff0e0\uff0e0\uff0e1/mcp",  # fullwidth full stops
        "https://127\uff610\uff610\uff611/mcp",  # halfwidth ideographic full stops
        "https://\uff11\uff12\uff17.0.0.1/mcp",  # fullwidth digits
        "https://\u2460\u2461\u2466.0.0.1/mcp",  # circled digits
        "https://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3/mcp",  # circled letters: localhost
        "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/mcp",  # fullwidth letters
        "https://LOCALHOST./mcp",
        "https://localhost./mcp",
        "https://127.0.0.1./mcp",
        "https://api.localhost./mcp",
        "https://metadata.google.internal./computeMetadata",
        "https://METADATA.GOOGLE.INTERNAL/computeMetadata",
        "https://169.254.169.254./latest",
        "https://0x7f.1/mcp",
        "https://127.1/mcp",
        "https://0x7f.0x0.0x0.0x1/mcp",
        "https://017700000001/mcp",
        "https://10.0.0.1./mcp",
        "https://[::ffff:127.0.0.1]/mcp",
        "https://[::ffff:7f00:1]/mcp",
        "https://[::127.0.0.1]/mcp",  # IPv4-compatible
        "https://[::ffff:0:a00:1]/mcp",  # IPv4-translated 10.0.0.1
        "https://[2002:7f00:1::1]/mcp",  # 6to4 of 127.0.0.1
        "https://[2002:a9fe:a9fe::]/mcp",  # 6to4 of the metadata address
        "https://[64:ff9b::7f00:1]/mcp",  # NAT64 of 127.0.0.1
        "https://[64:ff9b::169.254.169.254]/mcp",  # NAT64 of the metadata address
        "https://[64:ff9b:1::a00:1]/mcp",  # local-use NAT64 of 10.0.0.1
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/mcp",  # Teredo
        "https://[fd00:ec2::254]/latest",
        "https://[fe80::1%25eth0]/mcp",
        "https://127.0.0.%31/mcp",
        "https://%6c%6f%63%61%6c%68%6f%73%74/mcp",
        "https://127.0.0.1\\.example.com/mcp",
        "https://exa mple.com/mcp",
        "https://example.com\t/mcp",
        "https://256.0.0.1/mcp",
        "https://1.2.3.4.5/mcp",
        "https://0x1.0x2.0x3.0x4.0x5/mcp",
        "https://a..b/mcp",
        "https://-bad-.example.com/mcp",
        "https://xn--zz.example.com/mcp",
        "https://example.com:99999/mcp",
        "https://example.com:\uff18\uff10/mcp",
        "https://[::1/mcp",
    ],
)
def test_a_host_that_normalizes_to_a_non_public_address_or_not_at_all_is_refused(url: str) -> None:
    problems = check_url(url, STRICT, "mcp_servers[0].url")
    assert problems and all(field == "mcp_servers[0].url" for field, _ in problems)


@pytest.mark.parametrize(
    ("url", "forwarded"),
    [
        ("https://EXAMPLE.com/mcp?x=1#f", "https://example.com/mcp?x=1#f"),
        ("https://example.com./mcp", "https://example.com/mcp"),
        ("https://m\u00fcnchen.example/mcp", "https://xn--mnchen-3ya.example/mcp"),
        ("https://example\u3002com/mcp", "https://example.com/mcp"),
        ("https://ex\u00adample.com:0443/mcp", "https://example.com:443/mcp"),
        ("https://0x5d.0xb8.0xd7.0x0e/mcp", f"https://{PUBLIC}/mcp"),
        ("https://[2001:4860:4860:0:0:0:0:8888]/mcp", "https://[2001:4860:4860::8888]/mcp"),
        ("https://[2002:808:808::1]/mcp", "https://[2002:808:808::1]/mcp"),
    ],
)
def test_the_url_forwarded_carries_the_normalized_host(url: str, forwarded: str) -> None:
    lookups = answers({"example.com": [PUBLIC], "xn--mnchen-3ya.example": [PUBLIC]})
    servers = resolve_mcp_servers([{"url": url}], STRICT, lookups=lookups)
    assert servers is not None and servers[0].url == forwarded
    target = parse(url)
    assert not isinstance(target, str) and target.url == forwarded


@pytest.mark.parametrize(
    ("addresses", "kind"),
    [
        (["127.0.0.1"], "loopback"),
        ([PUBLIC, "10.1.2.3"], "private"),
        (["169.254.169.254"], "metadata"),
        (["::1"], "loopback"),
        (["::ffff:192.168.1.1"], "private"),
        (["64:ff9b::a9fe:a9fe"], "metadata"),
        (["2002:c0a8:101::1"], "private"),
        (["fe80::1%eth0"], "link-local"),
        (["0.0.0.0"], "private"),
        (["100.64.0.1"], "private"),
    ],
)
def test_a_name_that_resolves_to_a_non_public_address_is_refused_at_call_time(
    addresses: list[str], kind: str
) -> None:
    with pytest.raises(ArgumentProblem) as err:
        resolve_mcp_servers(
            [{"url": "https://rebind.example.net/mcp"}],
            STRICT,
            lookups=answers({"rebind.example.net": addresses}),
        )
    ((field, message),) = err.value.problems
    assert field == "mcp_servers[0].url" and f"resolves to a {kind} address" in message


def test_a_name_that_does_not_resolve_or_not_in_time_is_refused() -> None:
    with pytest.raises(ArgumentProblem) as err:
        resolve_mcp_servers([{"url": "https://nowhere.example.net/mcp"}], STRICT, lookups=answers({}))
    assert "does not resolve" in err.value.problems[0][1]

    def slow(host: str, timeout: float) -> Sequence[str]:
        raise TimeoutError

    with pytest.raises(ArgumentProblem) as err:
        resolve_mcp_servers([{"url": "https://slow.example.net/mcp"}], STRICT, lookups=Lookups(resolver=slow))
    assert "did not resolve within 5 s" in err.value.problems[0][1]


def test_each_name_is_looked_up_once_per_call_and_only_for_a_call_that_is_otherwise_valid() -> None:
    calls: list[str] = []
    lookups = answers({"a.example.net": [PUBLIC]}, calls)
    servers = [
        {"url": "https://a.example.net/one", "name": "one"},
        {"url": "https://A.example.net./two", "name": "two"},
    ]
    assert resolve_mcp_servers(servers, STRICT, lookups=lookups) is not None
    assert resolve_mcp_servers(servers, STRICT, field="runs[0].mcp_servers", lookups=lookups) is not None
    assert calls == ["a.example.net"]
    with pytest.raises(ArgumentProblem):
        resolve_mcp_servers([*servers, {"url": "ftp://a.example.net/"}], STRICT, lookups=answers({}, calls))
    assert calls == ["a.example.net"]


def test_one_call_may_name_at_most_sixteen_hosts() -> None:
    lookups = answers({f"h{i}.example.net": [PUBLIC] for i in range(20)})
    for start in (0, 8):
        servers = [{"url": f"https://h{i}.example.net/mcp"} for i in range(start, start + 8)]
        resolve_mcp_servers(servers, STRICT, lookups=lookups)
    with pytest.raises(ArgumentProblem) as err:
        resolve_mcp_servers([{"url": "https://h16.example.net/mcp"}], STRICT, lookups=lookups)
    assert "at most 16 distinct host" in err.value.problems[0][1]


def test_nothing_is_looked_up_when_private_addresses_are_allowed_or_for_configured_servers() -> None:
    calls: list[str] = []
    assert (
        resolve_mcp_servers([{"url": "http://mcp.internal.example/mcp"}], LOOSE, lookups=answers({}, calls))
        is not None
    )
    configured = Settings(mcp_servers={"crm": NamedMcpServer(url="https://crm.internal.example/mcp")})
    assert resolve_mcp_servers(["crm"], configured, lookups=answers({}, calls)) is not None
    assert calls == []


def test_sandbox_mode_keeps_its_loopback_allowance() -> None:
    for url in ("http://127.0.0.1:9/mcp", "http://localhost:8123/mcp", "http://[::1]:9/mcp"):
        assert check_url(url, LOOSE, "u") == []


@pytest.mark.anyio
async def test_add_runs_fan_out_and_retries_refuse_a_name_that_resolves_to_a_private_address(
    tmp_path: Path,
) -> None:
    table: dict[str, list[str]] = {"good.example.net": [PUBLIC], "inside.example.net": ["10.0.0.5"]}

    def resolver(host: str, timeout: float) -> list[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    settings = Settings.from_env(
        {}, parallel_api_key="k-1234567890", export_dir=tmp_path, spend_limit_usd=100.0
    )
    sandbox = Sandbox(SandboxConfig(speed=2000.0, fail_rate=1.0))
    async with sandbox:
        wired = settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL})
        server = build_server(
            settings,
            lambda: ParallelClient.from_settings(wired, transport=sandbox.transport),
            resolver=resolver,
        )
        async with Client(server) as client:
            gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]  # type: ignore[index]
            inside = [{"url": "https://INSIDE.example.net./mcp"}]
            for tool, args, field in (
                (
                    "add_runs",
                    {"task_group_id": gid, "inputs": ["q"], "mcp_servers": inside},
                    "mcp_servers[0].url",
                ),
                (
                    "add_runs",
                    {"task_group_id": gid, "inputs": ["q"], "runs": [{"index": 0, "mcp_servers": inside}]},
                    "runs[0].mcp_servers[0].url",
                ),
                (
                    "fan_out",
                    {"inputs": ["q"], "mcp_servers": inside, "wait_seconds": 0},
                    "mcp_servers[0].url",
                ),
                ("retry_failed_runs", {"task_group_id": gid, "mcp_servers": inside}, "mcp_servers[0].url"),
            ):
                refused = await client.call_tool(tool, args)
                text = refused.content[0].text  # type: ignore[union-attr]
                assert (
                    refused.is_error and f"{field}: names a host that resolves to a private address" in text
                )
                assert "10.0.0.5" not in text
            assert sandbox.store.counts() == (1, 0)

            good = [{"url": "https://GOOD.example.net./mcp", "name": "good"}]
            added = await client.call_tool(
                "add_runs", {"task_group_id": gid, "inputs": ["q"], "mcp_servers": good}
            )
            assert not added.is_error and added.structured_content["added"] == 1  # type: ignore[index]
            (run,) = sandbox.store.group_runs(gid, -1, None, 10)
            assert [s.url for s in run.input.mcp_servers or []] == ["https://good.example.net/mcp"]
            with anyio.fail_after(30):
                while (
                    await client.call_tool("wait_for_task_group", {"task_group_id": gid})
                ).structured_content[  # type: ignore[index]
                    "status"
                ]["active"]:
                    pass
            # The name now answers with a private address: retrying the failed run's own server is refused.
            table["good.example.net"] = ["127.0.0.1"]
            retry = await client.call_tool("retry_failed_runs", {"task_group_id": gid})
            text = retry.content[0].text  # type: ignore[union-attr]
            assert retry.is_error and "mcp_servers: the failed runs forward an MCP server" in text
            assert "loopback" in text and sandbox.store.counts() == (1, 1)
    sandbox.close()
