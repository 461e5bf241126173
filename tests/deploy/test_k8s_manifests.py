"""The Kubernetes manifests validate strictly against a current Kubernetes and match the settings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from taskgroup_mcp.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "manifests" / "k8s"
VALIDATE = Path(sys.executable).with_name("kubernetes-validate")
KUBERNETES_VERSION = "1.37.0"  # the newest kubernetes-validate ships schemas for
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
UPSTREAM_ENV = {"PARALLEL_API_KEY", "PARALLEL_BASE_URL"}


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VALIDATE), "--strict", "-k", KUBERNETES_VERSION, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((K8S / name).read_text(encoding="utf-8"))


def _container() -> dict[str, Any]:
    return _load("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_each_manifest_validates_strictly_against_current_kubernetes(path: Path) -> None:
    result = _validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_the_validator_rejects_an_unknown_field(tmp_path: Path) -> None:
    broken = _load("service.yaml")
    broken["spec"]["portz"] = broken["spec"].pop("ports")
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    assert _validate(path).returncode != 0


def test_the_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    listed = set(_load("kustomization.yaml")["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"secret.example.yaml"}


def test_every_environment_variable_the_deployment_sets_is_a_setting() -> None:
    names = set(_load("configmap.yaml")["data"]) | {e["name"] for e in _container()["env"]}
    dockerfile = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    names |= set(re.findall(r"\b(TASKGROUP_MCP_[A-Z_]+)=", dockerfile))
    fields = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = {n for n in names if n not in fields and n not in UPSTREAM_ENV}
    assert not unknown, f"not settings: {sorted(unknown)}"


def test_the_configmap_values_parse_into_settings() -> None:
    settings = Settings.from_env(_load("configmap.yaml")["data"])
    assert settings.log_format == "json"
    assert settings.allow_inputs_file is False
    assert settings.auth_tokens_file is not None
    assert "mcp.example.com" in settings.allowed_hosts


def test_shutdown_lets_the_longest_tool_wait_finish_before_the_pod_is_killed() -> None:
    settings = Settings.from_env(_load("configmap.yaml")["data"])
    pod = _load("deployment.yaml")["spec"]["template"]["spec"]
    pre_stop = int(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
    assert settings.wait_max_seconds < settings.shutdown_grace_seconds
    assert pre_stop + settings.shutdown_grace_seconds < pod["terminationGracePeriodSeconds"]


def test_the_pod_runs_locked_down() -> None:
    pod = _load("deployment.yaml")["spec"]["template"]["spec"]
    container = _container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/var/lib/taskgroup-mcp/exports"} <= mounts
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--insecure-no-auth" not in container["args"]


def test_the_deployment_runs_three_replicas_that_the_budget_and_autoscaler_agree_with() -> None:
    assert _load("deployment.yaml")["spec"]["replicas"] == 3
    assert _load("hpa.yaml")["spec"]["minReplicas"] == 3
    assert _load("pdb.yaml")["spec"]["minAvailable"] < 3


def test_egress_is_dns_https_and_the_journals_postgresql_only() -> None:
    egress = _load("networkpolicy.yaml")["spec"]["egress"]
    ports = {(p["port"], p["protocol"]) for rule in egress for p in rule["ports"]}
    assert ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (5432, "TCP")}


def test_the_journals_postgresql_url_comes_from_the_secret_and_is_optional() -> None:
    env = {e["name"]: e for e in _container()["env"]}
    ref = env["TASKGROUP_MCP_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"], ref["optional"]) == ("taskgroup-mcp", "database-url", True)
    assert "database-url" in _load("secret.example.yaml")["stringData"]
    assert "TASKGROUP_MCP_DATABASE_URL" not in _load("configmap.yaml")["data"], (
        "a URL with a password is a secret"
    )


def test_the_secret_example_holds_placeholders_only() -> None:
    secret = _load("secret.example.yaml")
    for value in secret["stringData"].values():
        assert "REPLACE" in value
