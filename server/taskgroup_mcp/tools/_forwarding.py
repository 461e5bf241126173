"""The forwarding policy for ``mcp_servers``: what an agent may ask Parallel to connect to.

A forwarded server is an exfiltration channel (a prompt-injected agent could point a run at an
attacker's URL carrying a real credential), so: at most 10 per run, ``https`` only and no
private, loopback, link-local or metadata addresses unless the operator allows them, no
userinfo in URLs. Header values of servers the operator configured (``TASKGROUP_MCP_MCP_SERVERS``)
may be ``${ENV_NAME}`` references resolved here, on the server; an agent-written server's header
values are sent as written, and one that looks like a reference is refused (resolving it would let
any caller send the server's environment to a URL of its choosing). Configured header values are
redacted for everyone (they are the operator's); an agent's header values only from the call that
brought them. Header names must be HTTP tokens and sizes are bounded, checked before any other work.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from taskgroup_mcp import wire
from taskgroup_mcp.config import NamedMcpServer, Settings

from ._arguments import ArgumentProblem, problems_from_validation
from ._hosts import Lookups, Target, host_kind, parse
from ._sanitize import SECRETS

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_LOOKS_LIKE_REF = "${"
AGENT_REFERENCE_REFUSED = (
    "looks like an environment reference (${...}), which this server resolves only for MCP servers "
    "the operator configured; ask the operator to add this server to TASKGROUP_MCP_MCP_SERVERS and "
    "pass its name instead of the URL"
)
"""The same words whether or not the variable exists: the answer says nothing about the environment."""
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
"""An HTTP field name (RFC 9110 token): no CR/LF, spaces, colons or other separators."""
_FIELD_VALUE = re.compile(r"^[\x20-\x7e\t]*\Z")
"""A header value we forward: printable ASCII, spaces and tabs (RFC 9110 field-vchar, no obs-text)."""
_FRAMING_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer"}
)

MAX_HEADERS_PER_SERVER = 16
MAX_HEADER_NAME_CHARS = 128
MAX_HEADER_VALUE_CHARS = 8_192
MAX_HEADER_VALUES_PER_CALL = 64
"""Distinct header values one tool call may carry, over all its ``mcp_servers`` lists."""
MAX_HEADER_CHARS_PER_CALL = 16_384


class McpServerArg(BaseModel):
    """One forwarded MCP server as an agent spells it."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: str = Field(min_length=1, max_length=2048)
    name: str | None = Field(default=None, max_length=64)
    headers: dict[str, str] | None = None
    allowed_tools: list[str] | None = None


def _target(url: str, settings: Settings, field: str) -> tuple[Target | None, list[tuple[str, str]]]:
    """The normalized target of one URL and its policy problems (no lookup)."""
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError:
        return None, [(field, "is not a valid URL")]
    problems: list[tuple[str, str]] = []
    if scheme not in ("https", "http"):
        problems.append((field, "must be an https URL"))
    elif scheme == "http" and not settings.allow_http_mcp_urls:
        problems.append((field, "must use https (plain http is not allowed by this server)"))
    target = parse(url)
    if isinstance(target, str):
        return None, [*problems, (field, target)]
    kind = host_kind(target)
    if kind is not None and not settings.allow_private_mcp_urls:
        problems.append((field, f"points to a {kind} address, which this server does not forward to"))
    return target, problems


def check_url(url: str, settings: Settings, field: str) -> list[tuple[str, str]]:
    """The policy problems of one URL as written (empty when it may be forwarded); a host name is
    not looked up here (:func:`resolve_mcp_servers` does that)."""
    return _target(url, settings, field)[1]


def _resolve_header(
    value: str, field: str, env: Mapping[str, str]
) -> tuple[str | None, tuple[str, str] | None]:
    match = _ENV_REF.match(value)
    if match is None:
        return value, None
    resolved = env.get(match.group(1))
    if not resolved:
        return None, (
            field,
            f"refers to environment variable {match.group(1)}, which is not set on the server",
        )
    return resolved, None


def _named(
    name: str, cfg: NamedMcpServer, field: str, env: Mapping[str, str]
) -> tuple[wire.McpServer | None, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for key, secret in cfg.headers.items():
        value, problem = _resolve_header(secret.get_secret_value(), f"{field}.headers.{key}", env)
        if problem is not None:
            problems.append(problem)
        elif value is not None:
            SECRETS.add(value)
            headers[key] = value
    if problems:
        return None, problems
    return wire.McpServer(
        name=name, url=cfg.url, headers=headers or None, allowed_tools=cfg.allowed_tools
    ), []


def operator_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """What the operator configured that must never be shown: the API key, HTTP bearer tokens
    and the header values of configured MCP servers (references resolved as a run would)."""
    environ = os.environ if env is None else env
    found = [t.get_secret_value() for t in settings.auth_tokens]
    if settings.parallel_api_key is not None:
        found.append(settings.parallel_api_key.get_secret_value())
    for cfg in settings.mcp_servers.values():
        for secret in cfg.headers.values():
            value, _ = _resolve_header(secret.get_secret_value(), "", environ)
            if value:
                found.append(value)
    return found


def _default_name(host: str, index: int) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:48] + f"_{index}"


def header_problems(headers: Mapping[Any, Any], where: str) -> list[tuple[str, str]]:
    """The problems of one server's ``headers`` (a raw mapping): count, names, value sizes and
    characters. Only a name that passed is ever put in a field path; no value is quoted."""
    if len(headers) > MAX_HEADERS_PER_SERVER:
        return [
            (f"{where}.headers", f"has {len(headers)} headers; at most {MAX_HEADERS_PER_SERVER} are allowed")
        ]
    problems: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or len(name) > MAX_HEADER_NAME_CHARS or not _TOKEN.match(name):
            problems.append(
                (
                    f"{where}.headers",
                    "has a header name that is not a valid HTTP field name (1 to "
                    f"{MAX_HEADER_NAME_CHARS} letters, digits or !#$%&'*+-.^_`|~; no spaces, colons "
                    "or line breaks)",
                )
            )
            continue
        if name.lower() in _FRAMING_HEADERS:
            problems.append((f"{where}.headers.{name}", "is set by the HTTP client itself; remove it"))
            continue
        if not isinstance(value, str):
            continue  # the argument model names the wrong type
        field = f"{where}.headers.{name}"
        if len(value) > MAX_HEADER_VALUE_CHARS:
            problems.append(
                (field, f"is {len(value):,} characters; at most {MAX_HEADER_VALUE_CHARS:,} are allowed")
            )
        elif not _FIELD_VALUE.match(value):
            problems.append((field, "must be printable ASCII (no line breaks or control characters)"))
    return problems


def _servers_in(arguments: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every ``mcp_servers`` list in raw tool arguments, with its field path."""
    yield "mcp_servers", arguments.get("mcp_servers")
    runs = arguments.get("runs")
    if isinstance(runs, list):
        for j, run in enumerate(cast("list[Any]", runs)):
            if isinstance(run, Mapping):
                yield f"runs[{j}].mcp_servers", cast("Mapping[str, Any]", run).get("mcp_servers")


def call_header_values(arguments: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """The distinct header values a tool call carries in ``mcp_servers`` (also under ``runs``),
    and the problems that refuse the call before any other work: a header over its bounds, or
    more header values in one call than :data:`MAX_HEADER_VALUES_PER_CALL` /
    :data:`MAX_HEADER_CHARS_PER_CALL`. Cheap: sizes and characters only, no value is copied."""
    values: dict[str, None] = {}
    chars = 0
    problems: list[tuple[str, str]] = []
    for field, servers in _servers_in(arguments):
        if not isinstance(servers, list):
            continue
        for i, item in enumerate(cast("list[Any]", servers)):
            if not isinstance(item, Mapping):
                continue
            headers: Any = cast("Mapping[str, Any]", item).get("headers")
            if not isinstance(headers, Mapping):
                continue
            found = header_problems(cast("Mapping[Any, Any]", headers), f"{field}[{i}]")
            problems.extend(found)
            if found:
                continue
            for value in cast("Mapping[str, Any]", headers).values():
                if isinstance(value, str) and value not in values:
                    values[value] = None
                    chars += len(value)
            if len(values) > MAX_HEADER_VALUES_PER_CALL or chars > MAX_HEADER_CHARS_PER_CALL:
                return [], [
                    (
                        field,
                        f"this call carries more than {MAX_HEADER_VALUES_PER_CALL} distinct header values "
                        f"or {MAX_HEADER_CHARS_PER_CALL:,} characters of them; configure the servers once by "
                        "name (TASKGROUP_MCP_MCP_SERVERS) and pass their names",
                    )
                ]
        if len(problems) >= 8:
            break
    return list(values), problems


def resolve_mcp_servers(
    raw: Sequence[Any] | None,
    settings: Settings,
    *,
    field: str = "mcp_servers",
    env: Mapping[str, str] | None = None,
    lookups: Lookups | None = None,
) -> list[wire.McpServer] | None:
    """Validate and resolve an agent's ``mcp_servers`` argument into wire servers.

    Each item is ``{url, name?, headers?, allowed_tools?}`` or the name of a server configured in
    settings; only a configured server's header values are resolved against ``env``. An
    agent-written URL is forwarded with its host normalized, and (unless private addresses are
    allowed) its host name is looked up with ``lookups`` (share one per tool call; default: the
    system resolver) once everything else is valid. Raises :class:`ArgumentProblem` naming every
    offending field; never quotes a value.
    """
    if raw is None:
        return None
    environ = os.environ if env is None else env
    problems: list[tuple[str, str]] = []
    if len(raw) > wire.MAX_MCP_SERVERS_PER_RUN:
        raise ArgumentProblem(
            [(field, f"{len(raw)} servers given; at most {wire.MAX_MCP_SERVERS_PER_RUN} are allowed per run")]
        )
    out: list[wire.McpServer] = []
    to_look_up: list[tuple[str, str]] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        where = f"{field}[{i}]"
        if isinstance(item, str):
            cfg = settings.mcp_servers.get(item)
            if cfg is None:
                known = ", ".join(sorted(settings.mcp_servers)) or "none are configured"
                problems.append((where, f"names no configured MCP server (configured: {known})"))
                continue
            server, found = _named(item, cfg, where, environ)
            problems.extend(found)
            if server is not None:
                out.append(server)
                names.add(server.name)
            continue
        try:
            arg = McpServerArg.model_validate(item)
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, where))
            continue
        target, url_problems = _target(arg.url, settings, f"{where}.url")
        problems.extend(url_problems)
        header_found = header_problems(arg.headers or {}, where)
        problems.extend(header_found)
        name = arg.name or _default_name(target.host if target else "server", i)
        if not _NAME.match(name):
            problems.append((f"{where}.name", "may hold only letters, digits, '_', '.', '-' (at most 64)"))
        elif name in names:
            problems.append((f"{where}.name", "repeats the name of another server in this run"))
        headers: dict[str, str] = {}
        for key, value in (arg.headers or {}).items() if not header_found else ():
            if _LOOKS_LIKE_REF in value:
                problems.append((f"{where}.headers.{key}", AGENT_REFERENCE_REFUSED))
            else:
                SECRETS.add_to_call(value)  # the caller's own secret: masked in this call only
                headers[key] = value
        if target is None or problems:
            continue
        if target.ip is None and not settings.allow_private_mcp_urls:
            to_look_up.append((f"{where}.url", target.host))
        out.append(
            wire.McpServer(
                name=name, url=target.url, headers=headers or None, allowed_tools=arg.allowed_tools
            )
        )
        names.add(name)
    if problems:
        raise ArgumentProblem(problems)
    if to_look_up:
        lookups = lookups or Lookups()
        found = [(where, why) for where, host in to_look_up if (why := lookups.check(host)) is not None]
        if found:
            raise ArgumentProblem(found)
    return out


def recheck_echoed(
    servers: Sequence[wire.McpServer], settings: Settings, lookups: Lookups | None = None
) -> str | None:
    """Why the policy refuses one of ``servers`` (as the API echoed them back for a retry), or
    None. The operator's configured servers pass as they are; the first refusal is the answer."""
    lookups = lookups or Lookups()
    for server in servers:
        cfg = settings.mcp_servers.get(server.name)
        if cfg is not None and cfg.url == server.url:
            continue
        target, problems = _target(server.url, settings, "url")
        if problems or target is None:
            return problems[0][1] if problems else "is not a valid URL"
        if target.ip is None and not settings.allow_private_mcp_urls:
            why = lookups.check(target.host)
            if why is not None:
                return why
    return None
