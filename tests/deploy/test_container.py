"""The Dockerfile lints clean under hadolint and keeps its promises (no Docker engine here: lint, not build)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).with_name("hadolint")


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def _stages(text: str) -> list[str]:
    """The Dockerfile split at each FROM, comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", re.sub(r"(?m)^\s*#.*\n", "", text))
    return re.split(r"(?m)^FROM ", joined)[1:]


def test_the_dockerfile_is_clean_under_hadolint() -> None:
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_reports_a_known_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n", encoding="utf-8")
    result = _hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_the_final_stage_is_slim_python_run_as_a_non_root_user_without_build_tools() -> None:
    stages = _stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert len(stages) >= 2, "multi-stage build"
    builder, final = stages[0], stages[-1]
    assert "pip wheel" in builder
    assert final.startswith("python:3.11-slim")
    users = re.findall(r"(?m)^USER (\S+)", final)
    assert users and not users[-1].startswith(("root", "0")), users
    for tool in ("gcc", "build-essential", "pip install", "pip wheel", "apt-get install"):
        assert tool not in final, f"{tool!r} in the final stage"


def test_the_image_serves_http_on_all_interfaces_and_probes_healthz_with_python() -> None:
    final = _stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]
    assert 'CMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]' in final
    healthcheck = re.search(r"(?m)^HEALTHCHECK .*$", final)
    assert healthcheck is not None
    assert '"python"' in healthcheck.group(0) and "/healthz" in healthcheck.group(0)
    assert "curl" not in final and "wget" not in final
    assert "insecure-no-auth" not in final, "auth stays required by default"


def test_the_build_context_admits_only_what_the_wheel_needs() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!server/"} <= set(lines)
