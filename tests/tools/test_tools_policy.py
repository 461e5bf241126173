"""Plain tests of the forwarding policy, the spend guard and argument errors (no MCP)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from taskgroup_mcp import wire
from taskgroup_mcp.config import NamedMcpServer, Settings
from taskgroup_mcp.tools import ArgumentProblem
from taskgroup_mcp.tools._forwarding import check_url, resolve_mcp_servers
from taskgroup_mcp.tools._hosts import Lookups
from taskgroup_mcp.tools._spend import SpendRefused, estimate, refusal

STRICT = Settings()
LOOSE = Settings(allow_http_mcp_urls=True, allow_private_mcp_urls=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://mcp.example.com/mcp",
        "ftp://mcp.example.com/mcp",
        "https://127.0.0.1/mcp",
        "https://localhost:8443/mcp",
        "https://10.1.2.3/mcp",
        "https://192.168.0.10/mcp",
        "https://169.254.169.254/latest/meta-data",
        "https://metadata.google.internal/computeMetadata",
        "https://[::1]/mcp",
        "https://[::ffff:10.0.0.1]/mcp",
        "https://2130706433/mcp",
        "https://0x7f000001/mcp",
        "https://0177.0.0.1/mcp",
        "https://user:pw@mcp.example.com/mcp",
        "https://token@mcp.example.com/mcp",
    ],
)
def test_a_url_that_is_not_public_https_is_refused_by_default(url: str) -> None:
    problems = check_url(url, STRICT, "mcp_servers[0].url")
    assert problems and all(field == "mcp_servers[0].url" for field, _ in problems)


def test_a_public_https_url_is_forwarded() -> None:
    assert check_url("https://mcp.example.com/mcp", STRICT, "u") == []


def test_loopback_http_is_allowed_when_the_settings_allow_it() -> None:
    assert check_url("http://127.0.0.1:8123/mcp", LOOSE, "u") == []


def test_userinfo_is_refused_even_when_private_addresses_are_allowed() -> None:
    assert check_url("http://a:b@127.0.0.1/mcp", LOOSE, "u")


def test_more_than_ten_servers_is_an_error_naming_the_field() -> None:
    servers = [{"url": f"https://m{i}.example.com/mcp"} for i in range(11)]
    with pytest.raises(ArgumentProblem) as err:
        resolve_mcp_servers(servers, STRICT)
    assert err.value.problems[0][0] == "mcp_servers"


def _configured(url: str, **headers: str) -> Settings:
    return Settings(
        mcp_servers={"m": NamedMcpServer(url=url, headers={k: SecretStr(v) for k, v in headers.items()})}
    )


def test_an_env_reference_in_a_configured_servers_header_is_resolved_on_the_server() -> None:
    # Only the operator's configured servers may use references.
    servers = resolve_mcp_servers(
        ["m"],
        _configured("https://mcp.example.com/mcp", Authorization="${TOKEN_X}"),
        env={"TOKEN_X": "Bearer resolved-value-123"},
    )
    assert servers is not None
    assert servers[0].headers == {"Authorization": "Bearer resolved-value-123"}


def test_an_unset_env_reference_in_a_configured_server_names_the_header_field() -> None:
    with pytest.raises(ArgumentProblem) as err:
        resolve_mcp_servers(["m"], _configured("https://m.example.com", **{"X-Key": "${NOPE_UNSET}"}), env={})
    assert err.value.problems == [
        (
            "mcp_servers[0].headers.X-Key",
            "refers to environment variable NOPE_UNSET, which is not set on the server",
        )
    ]


@pytest.mark.parametrize(
    "value", ["${TOKEN_X}", "${NOPE_UNSET}", "Bearer ${TOKEN_X}", "${TOKEN_X", "x${}y", "${lower_case}"]
)
def test_an_agent_written_header_that_looks_like_a_reference_is_refused_the_same_whether_set_or_not(
    value: str,
) -> None:
    env = {"TOKEN_X": "Bearer resolved-value-123", "lower_case": "resolved-too-456"}
    problems: list[list[tuple[str, str]]] = []
    for environ in (env, {}):
        with pytest.raises(ArgumentProblem) as err:
            resolve_mcp_servers(
                [{"url": "https://m.example.com/mcp", "headers": {"Authorization": value}}],
                STRICT,
                env=environ,
            )
        problems.append(err.value.problems)
        assert "resolved" not in str(err.value)
    assert problems[0] == problems[1]
    ((field, message),) = problems[0]
    assert field == "mcp_servers[0].headers.Authorization"
    assert "TASKGROUP_MCP_MCP_SERVERS" in message and "name" in message
    assert "TOKEN_X" not in message and "NOPE" not in message


def test_an_agent_written_literal_header_is_sent_as_written() -> None:
    servers = resolve_mcp_servers(
        [{"url": "https://m.example.com/mcp", "headers": {"Authorization": "Bearer $TOKEN_X {x}"}}],
        STRICT,
        env={"TOKEN_X": "Bearer resolved-value-123"},
        lookups=Lookups(resolver=lambda host, timeout: ["93.184.215.14"]),
    )
    assert servers is not None and servers[0].headers == {"Authorization": "Bearer $TOKEN_X {x}"}


def test_a_named_server_comes_from_the_settings() -> None:
    settings = Settings(mcp_servers={"crm": NamedMcpServer(url="https://crm.example.com/mcp", headers={})})
    servers = resolve_mcp_servers(["crm"], settings)
    assert (
        servers is not None and servers[0].name == "crm" and servers[0].url == "https://crm.example.com/mcp"
    )


def test_an_unknown_server_name_is_an_error() -> None:
    with pytest.raises(ArgumentProblem) as err:
        resolve_mcp_servers(["nope"], STRICT)
    assert err.value.problems[0][0] == "mcp_servers[0]"


def test_a_wrongly_typed_header_value_is_named_without_echoing_it() -> None:
    canary = {"nested": "CANARY-hdr-9f8e7d6c"}
    with pytest.raises(ArgumentProblem) as err:
        resolve_mcp_servers([{"url": "https://m.example.com", "headers": {"Authorization": canary}}], STRICT)
    assert "mcp_servers[0].headers.Authorization" in str(err.value)
    assert "CANARY" not in str(err.value)


def test_the_estimate_is_runs_times_the_documented_price() -> None:
    est = estimate([("core", "processor")] * 100, Settings(runs_per_minute=2_000))
    assert est.cost_usd == pytest.approx(100 * wire.PROCESSORS["core"].usd_per_run)
    assert est.run_latency_seconds == wire.PROCESSORS["core"].latency_seconds
    assert est.enqueue_seconds == pytest.approx(3.0)


def test_by_default_the_enqueue_estimate_counts_requests_at_the_api_limit_not_runs() -> None:
    est = estimate([("lite", "processor")] * 10_000, Settings())
    assert est.enqueue_seconds == pytest.approx(0.3)  # 10 requests at 2,000 per minute


def test_an_unknown_processor_is_an_argument_error() -> None:
    with pytest.raises(ArgumentProblem) as err:
        estimate([("turbo", "processor")], Settings())
    assert err.value.problems[0][0] == "processor"


def test_an_estimate_over_the_limit_is_refused_until_confirmed() -> None:
    est = estimate([("ultra", "processor")] * 100, Settings())  # $30 > $10
    reason = refusal(est, None)
    assert reason is not None and "confirm_cost_usd=30.00" in reason
    assert refusal(est, 29.0) is not None
    assert refusal(est, 30.0) is None
    assert SpendRefused(reason).args[0] == reason


def test_an_estimate_under_the_limit_needs_no_confirmation() -> None:
    assert refusal(estimate([("lite", "processor")] * 100, Settings()), None) is None
