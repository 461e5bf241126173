"""Settings: environment variables (and CLI flags layered on top), secrets held as SecretStr.

Parallel's own variables keep their names (``PARALLEL_API_KEY``, ``PARALLEL_BASE_URL``, the same
ones the official SDK reads); everything of ours is ``TASKGROUP_MCP_*``. A secret is unwrapped
with ``get_secret_value()`` only where it goes on the wire.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

DEFAULT_BASE_URL = "https://api.parallel.ai"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_STRUCTURED_FIELDS = frozenset(
    {"mcp_servers", "auth_tokens", "allowed_hosts", "allowed_origins", "inputs_dirs"}
)
ENV_PREFIX = "TASKGROUP_MCP_"


def default_state_dir() -> Path:
    """``~/.taskgroup-mcp``: the journal's home unless ``TASKGROUP_MCP_STATE_DIR`` says otherwise."""
    return Path.home() / ".taskgroup-mcp"


class SettingsError(ValueError):
    """Invalid settings. The message names each variable and what is wrong, never its value."""


def env_name(field: str) -> str:
    """The environment variable that sets a Settings field."""
    return field.upper() if field.startswith("parallel_") else ENV_PREFIX + field.upper()


class NamedMcpServer(BaseModel):
    """An MCP server the operator configured once, which agents then name instead of spelling out.

    Header values may be ``${ENV_NAME}`` references, resolved on the server when a run is created.
    """

    model_config = ConfigDict(extra="forbid")

    url: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    allowed_tools: list[str] | None = None


class Settings(BaseModel):
    """Everything configurable. Build with :meth:`from_env`; override fields with ``model_copy``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Upstream API
    parallel_api_key: SecretStr | None = None
    parallel_base_url: str = DEFAULT_BASE_URL
    api_prefix: Literal["v1", "v1beta"] = "v1"
    connect_timeout_seconds: float = 5.0
    request_timeout_seconds: float = 60.0
    max_retries: int = Field(
        3, ge=0, le=10, description="Attempts after the first, for safe (GET) calls only"
    )

    # Sandbox
    sandbox: bool = False
    """Serve against the embedded sandbox instead of the real API (synthetic data, no key)."""
    sandbox_speed: float = 60.0
    sandbox_seed: int = 0
    sandbox_rate_limit_per_minute: int = Field(2_000, ge=0)
    """Run-creating POSTs per minute the embedded sandbox accepts (documented: 2,000); 0: no limit."""

    # Exactly-once submission
    chunk_size: int = Field(1_000, ge=1, le=1_000)
    submit_concurrency: int = Field(16, ge=1, le=64)
    """At most this many add-runs requests in flight; fewer while the API slows down or says 429."""
    requests_per_minute: int = Field(2_000, ge=1)
    """Run-creating requests per minute: the API's documented limit per key."""
    runs_per_minute: int | None = Field(None, ge=1)
    """An extra budget of runs added per minute (opt-in; the API limits requests, not runs)."""
    settle_seconds: float = Field(10.0, ge=0)
    """The longest wait for evidence after an ambiguous failure (covers late commits)."""

    # Journal: the durable record of groups and submissions
    state: bool = True
    """Keep the journal (and the embedded sandbox's data). Off: nothing on disk, as before."""
    state_dir: Path = Field(default_factory=lambda: default_state_dir())
    """Where the SQLite journal (and the embedded sandbox's file) live; created 0700."""
    database_url: SecretStr | None = None
    """``postgresql://...``: keep the journal in PostgreSQL instead (replicated deployments)."""

    # Tools
    spend_limit_usd: float = Field(10.0, ge=0)
    """add_runs refuses an estimate above this unless the call confirms it; also a batch that would
    take a group's spend, or the spend within the window, above it."""
    spend_window_seconds: float = Field(3600.0, gt=0)
    """The rolling window of the cumulative spend guard (every process sharing the journal)."""
    default_processor: str = "lite"
    wait_default_seconds: float = Field(45.0, gt=0)
    wait_max_seconds: float = Field(50.0, gt=0)
    """No tool waits longer than this: most MCP clients allow a tool call 60 s (openai-agents 5 s
    unless client_session_timeout_seconds is raised; see README, Agent frameworks)."""
    progress_interval_seconds: float = Field(5.0, gt=0, le=10)
    """A waiting tool sends a progress notification at least this often."""
    max_waits_per_caller: int = Field(8, ge=1)
    """Waits and result streams (wait_for_task_group, fan_out, get_task_group_results,
    export_task_group_results) one caller may have in progress at once; more are refused."""
    max_waits_total: int = Field(64, ge=1)
    """The same, for all callers together: keeps part of the 100-connection API pool for short calls."""
    export_dir: Path = Field(default_factory=lambda: Path.home() / ".taskgroup-mcp" / "exports")
    allow_inputs_file: bool | None = None
    """None: allowed on stdio, refused over HTTP."""
    inputs_dirs: list[Path] = Field(default_factory=list[Path])
    """Directories ``inputs_file`` may read from (and below; no hidden files or directories, no
    links out). Empty: the server's working directory."""
    mcp_servers: dict[str, NamedMcpServer] = Field(default_factory=dict)
    allow_http_mcp_urls: bool = False
    allow_private_mcp_urls: bool = False
    """Loopback, private, link-local and metadata addresses in forwarded MCP URLs."""

    # HTTP transport
    host: str = "127.0.0.1"
    port: int = 8000
    auth_tokens: list[SecretStr] = Field(default_factory=list[SecretStr])
    auth_tokens_file: Path | None = None
    allowed_hosts: list[str] = Field(default_factory=list[str])
    allowed_origins: list[str] = Field(default_factory=list[str])
    insecure_no_auth: bool = False
    per_request_api_key: bool = False
    """Multi-tenant: each HTTP request carries its own Parallel key in ``X-Parallel-Api-Key``;
    a request without one gets 401 (the operator's key is never used for it)."""
    per_request_api_key_fallback: bool = False
    """With ``per_request_api_key``: a request without the header uses ``PARALLEL_API_KEY`` instead
    of 401 (billed to the operator, and every such caller shares the operator's groups)."""
    public_url: str | None = None
    """Where clients reach ``/mcp`` (names the resource in 401 challenges); default from host and port."""
    max_request_body_bytes: int = 4 * 1024 * 1024
    http_header_timeout_seconds: float = Field(10.0, gt=0)
    """An HTTP connection that has not sent a request's headers within this is closed."""
    http_max_connections: int | None = Field(None, ge=1)
    """Open HTTP connections at most; None: three quarters of the open-file limit."""
    shutdown_grace_seconds: float = 25.0

    # Logging
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        if not v.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql://user:password@host:port/database URL")
        return v

    @field_validator("parallel_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``PARALLEL_*`` and ``TASKGROUP_MCP_*`` variables; keyword overrides win."""
        env = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        if env.get("PARALLEL_API_KEY"):
            data["parallel_api_key"] = env["PARALLEL_API_KEY"]
        if env.get("PARALLEL_BASE_URL"):
            data["parallel_base_url"] = env["PARALLEL_BASE_URL"]
        for name, field in cls.model_fields.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            ann = field.annotation
            if name in _STRUCTURED_FIELDS:
                data[name] = _parse_structured(name, raw)
            elif ann is bool or ann == (bool | None):
                data[name] = _parse_bool(name, raw)
            else:
                data[name] = raw
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    @property
    def api_key_configured(self) -> bool:
        return self.parallel_api_key is not None and bool(self.parallel_api_key.get_secret_value())


def _parse_structured(name: str, raw: str) -> Any:
    """Lists as JSON arrays or comma-separated; mappings as JSON objects."""
    text = raw.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{env_name(name)}: not valid JSON ({exc.msg})") from None
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{env_name(name)}: must be one of 1, true, yes, on, 0, false, no, off")


def _describe(exc: ValidationError) -> str:
    """One line per problem, from field names and messages only (values may be secrets)."""
    parts: list[str] = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = [str(p) for p in err["loc"]]
        head = env_name(loc[0]) if loc else "settings"
        rest = ".".join(loc[1:])
        parts.append(f"{head}{': ' + rest if rest else ''}: {err['msg']}")
    return "; ".join(parts)
