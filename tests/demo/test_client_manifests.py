"""The client configs, the registry server.json and the MCP Bundle manifest are right and name only real things."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from taskgroup_mcp.cli import build_parser
from taskgroup_mcp.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SCRIPTS: dict[str, str] = PYPROJECT["project"]["scripts"]
DIST = PYPROJECT["project"]["name"]
VERSION = PYPROJECT["project"]["version"]
# The image name the Dockerfile's usage line builds (`docker build -t taskgroup-mcp .`).
DOCKER_IMAGE = "taskgroup-mcp"

CLONE_PLACEHOLDER = "/absolute/path/to/your/taskgroup-mcp-clone"
CLIENT_CONFIGS = ["claude_desktop_config.json", "cursor-mcp.json", "vscode-mcp.json"]
ALL_JSON = sorted(p for p in MANIFESTS.rglob("*.json") if "k8s" not in p.relative_to(MANIFESTS).parts)


def _load(name: str) -> dict[str, Any]:
    return json.loads((MANIFESTS / name).read_text(encoding="utf-8"))


def _servers(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return config.get("mcpServers") or config["servers"]


def _known_env_var(name: str) -> bool:
    if name in ("PARALLEL_API_KEY", "PARALLEL_BASE_URL"):
        return True
    return name.startswith(ENV_PREFIX) and name[len(ENV_PREFIX) :].lower() in Settings.model_fields


def _our_argv(command: str, args: list[str]) -> list[str]:
    """The argv our CLI receives from a launcher line; fails if the launcher names no script of ours."""
    if command == "uvx":
        rest = list(args)
        if rest[:1] == ["--from"]:
            # the published package, or (until it is on PyPI) the clone's absolute path
            assert rest[1] in (DIST, CLONE_PLACEHOLDER), f"uvx --from names {rest[1]!r}, not {DIST!r}"
            rest = rest[2:]
        assert rest[0] in SCRIPTS, f"uvx runs {rest[0]!r}, which is no console script of {DIST}"
        return rest[1:]
    if command == "docker":
        assert args[:2] == ["run", "-i"], "stdio through docker needs `docker run -i`"
        image_at = args.index(DOCKER_IMAGE)
        return args[image_at + 1 :]
    if command == "uv":
        assert args[:2] == ["run", "--directory"], args
        assert args[3] in SCRIPTS, f"uv run names {args[3]!r}, which is no console script"
        return args[4:]
    raise AssertionError(f"unexpected launcher {command!r}")


@pytest.mark.parametrize("path", ALL_JSON, ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_every_manifest_file_is_valid_json(path: Path) -> None:
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


def test_the_manifest_folder_holds_every_client_config_and_both_package_manifests() -> None:
    names = {str(p.relative_to(MANIFESTS)) for p in ALL_JSON}
    assert {*CLIENT_CONFIGS, "server.json", "mcpb/manifest.json"} <= names


@pytest.mark.parametrize("name", CLIENT_CONFIGS)
def test_each_client_config_launches_a_real_command_with_flags_the_cli_accepts(name: str) -> None:
    for server in _servers(_load(name)).values():
        argv = _our_argv(server["command"], server["args"])
        build_parser().parse_args(argv)  # SystemExit (a failed test) on an unknown flag


@pytest.mark.parametrize("name", CLIENT_CONFIGS)
def test_each_client_config_sets_only_environment_variables_the_settings_read(name: str) -> None:
    for server in _servers(_load(name)).values():
        env: dict[str, str] = server.get("env", {})
        assert "PARALLEL_API_KEY" in env
        for var in env:
            assert _known_env_var(var), f"{name} sets {var}, which no setting reads"
        passed = [server["args"][i + 1] for i, a in enumerate(server["args"]) if a == "-e"]
        for var in passed:
            assert _known_env_var(var) and var in env, f"{name} forwards {var} into docker without setting it"


def test_the_claude_desktop_config_has_a_uvx_form_and_a_docker_form() -> None:
    commands = sorted(s["command"] for s in _servers(_load("claude_desktop_config.json")).values())
    assert commands == ["docker", "uvx"]


def test_the_docker_form_runs_the_image_the_dockerfile_builds_through_its_entry_point() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"docker build -t {DOCKER_IMAGE} ." in dockerfile
    assert 'ENTRYPOINT ["taskgroup-mcp"]' in dockerfile  # so the args after the image are our CLI's


def test_the_vscode_config_asks_for_the_key_as_a_password_input_and_types_its_server() -> None:
    config = _load("vscode-mcp.json")
    inputs = {i["id"]: i for i in config["inputs"]}
    for server in config["servers"].values():
        assert server["type"] == "stdio"
        ref = re.fullmatch(r"\$\{input:(.+)\}", server["env"]["PARALLEL_API_KEY"])
        assert ref and inputs[ref.group(1)]["password"] is True


def test_server_json_matches_the_registry_schema_shape() -> None:
    schema = json.loads((SCHEMAS / "server.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(_load("server.json"), schema, cls=jsonschema.Draft202012Validator)


def test_the_registry_schema_shape_refuses_obsolete_and_loose_forms() -> None:
    schema = json.loads((SCHEMAS / "server.schema.json").read_text(encoding="utf-8"))
    good = _load("server.json")
    bad_forms: list[dict[str, Any]] = [
        {**good, "name": "no-slash"},
        {**good, "packages": [{**good["packages"][0], "version": "latest"}]},
        {**good, "packages": [{**good["packages"][0], "version": ">=0.1"}]},
        {**good, "packages": [{**good["packages"][0], "transport": {"type": "websocket"}}]},
        {**good, "version_detail": {"version": VERSION}},
        {**good, "packages": [{**good["packages"][0], "registryType": "mcpb"}]},
    ]
    for bad in bad_forms:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)


def test_server_json_points_at_this_distribution_and_version_with_real_variables() -> None:
    server = _load("server.json")
    assert server["version"] == VERSION
    (package,) = server["packages"]
    assert (package["registryType"], package["identifier"], package["version"]) == ("pypi", DIST, VERSION)
    assert package["runtimeHint"] == "uvx" and DIST in SCRIPTS  # what `uvx <identifier>` runs
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert all(_known_env_var(name) for name in variables)
    assert variables["PARALLEL_API_KEY"]["isSecret"] is True


def test_the_bundle_manifest_passes_the_mcpb_schema() -> None:
    schema = json.loads((SCHEMAS / "mcpb-manifest-v0.4.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(_load("mcpb/manifest.json"), schema, cls=jsonschema.Draft7Validator)


def test_the_bundle_declares_the_api_key_sensitive_and_maps_user_config_to_real_variables() -> None:
    manifest = _load("mcpb/manifest.json")
    assert manifest["version"] == VERSION
    user_config: dict[str, dict[str, Any]] = manifest["user_config"]
    config = manifest["server"]["mcp_config"]
    build_parser().parse_args(_our_argv(config["command"], config["args"]))
    for var, value in config["env"].items():
        assert _known_env_var(var), var
        ref = re.fullmatch(r"\$\{user_config\.(\w+)\}", value)
        assert ref and ref.group(1) in user_config, f"{var} maps to {value}, no such user_config"
    key_option = re.fullmatch(r"\$\{user_config\.(\w+)\}", config["env"]["PARALLEL_API_KEY"])
    assert key_option and user_config[key_option.group(1)]["sensitive"] is True
    assert (ROOT / manifest["server"]["entry_point"]).is_file()


def test_the_bundle_defaults_are_values_the_settings_accept() -> None:
    manifest = _load("mcpb/manifest.json")
    user_config: dict[str, dict[str, Any]] = manifest["user_config"]
    env: dict[str, str] = {}
    for var, value in manifest["server"]["mcp_config"]["env"].items():
        option = user_config[value[len("${user_config.") : -1]]
        default = option.get("default", "")
        # Claude Desktop substitutes booleans as true/false and numbers as their decimal text.
        env[var] = str(default).lower() if isinstance(default, bool) else str(default)
    settings = Settings.from_env(env)
    assert settings.sandbox is False
    assert settings.spend_limit_usd == 10.0
    assert settings.parallel_api_key is None
