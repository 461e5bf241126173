"""`taskgroup-mcp sandbox` as a process: flags, the printed port, and a clean exit on SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx2


def _start(*flags: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskgroup_mcp", "sandbox", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line
    return proc, line.rsplit(" ", 1)[1].strip()


def test_the_sandbox_command_enforces_its_api_key_applies_faults_and_exits_cleanly_on_sigint() -> None:
    proc, base = _start(
        "--api-key", "cli-canary-key", "--faults", "throttle=1,retry_after=3", "--speed", "1000"
    )
    try:
        with httpx2.Client(base_url=base) as http:
            assert http.post("/v1/tasks/groups", json={}, headers={"x-api-key": "wrong"}).status_code == 401
            gid = http.post("/v1/tasks/groups", json={}, headers={"x-api-key": "cli-canary-key"}).json()[
                "taskgroup_id"
            ]
            r = http.post(
                f"/v1/tasks/groups/{gid}/runs",
                json={"inputs": [{"input": "q", "processor": "lite"}]},
                headers={"x-api-key": "cli-canary-key"},
            )
            assert r.status_code == 429 and r.headers["retry-after"] == "3"
            assert http.post("/_sandbox/reset").status_code == 401
            stats = http.get("/_sandbox/stats", headers={"x-api-key": "cli-canary-key"}).json()
            assert stats["faults_injected"] == {"throttle": 1} and stats["groups"] == 1
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert "POST /v1/tasks/groups 401" in err and "received SIGINT" in err
        assert "cli-canary-key" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_a_malformed_faults_flag_is_refused_with_exit_code_2() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", "sandbox", "--port", "0", "--faults", "explode=1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "unknown fault" in r.stderr and r.stdout == ""


def test_the_rate_limit_flag_sets_the_documented_limit_and_a_negative_one_is_refused() -> None:
    proc, base = _start("--rate-limit", "1")
    try:
        with httpx2.Client(base_url=base, headers={"x-api-key": "k"}) as http:
            first = http.post("/v1/tasks/runs", json={"input": "q", "processor": "lite"})
            second = http.post("/v1/tasks/runs", json={"input": "q", "processor": "lite"})
        assert first.status_code == 202
        assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
        assert second.json()["type"] == "error"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    refused = subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", "sandbox", "--port", "0", "--rate-limit", "-5"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2 and "rate_limit_per_minute" in refused.stderr


def test_a_busy_port_is_one_line_and_exit_1_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "taskgroup_mcp", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert r.returncode == 1 and r.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
