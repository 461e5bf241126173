"""A throw-away PostgreSQL server for the tests: initdb into a temporary directory, started on a
free loopback port (and a unix socket in that directory), stopped at the end of the session.

Uses the server binaries of Debian's ``postgresql`` package (``scripts/test-deps.sh`` installs it
when missing). PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
system user the package creates. Anything that stops it from starting fails the tests that need it,
with the server's log: never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True
    )
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable(
        "PostgreSQL's server binaries (initdb, pg_ctl) are missing: run scripts/test-deps.sh "
        "(make test does), or apt-get install postgresql"
    )


PORT_ATTEMPTS = 5


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    datadir: Path
    port: int
    runas: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [
                *self.runas,
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout

    def stop(self) -> None:
        subprocess.run(
            [*self.runas, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )


def start_postgres() -> PostgresServer:
    bindir = _bindir()
    runas: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="taskgroup-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' system user to run the server as: "
                "apt-get install postgresql creates it"
            ) from None
        os.chown(base, user.pw_uid, user.pw_gid)
        runas = ["runuser", "-u", "postgres", "--"]
    datadir = base / "data"
    init = subprocess.run(
        [
            *runas,
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if init.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-2000:]}")
    # PostgreSQL cannot bind port 0 and report the port: it is given a free one, which another
    # process may take before the server binds it. Only that clash ("Address already in use" in
    # the server's log) is tried again on another port; any other failure fails at once.
    log = base / "server.log"
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        options = f"-h 127.0.0.1 -p {port} -k {base} -F -c max_connections=200 -c shared_buffers=16MB"
        log.unlink(missing_ok=True)
        start = subprocess.run(
            [
                *runas,
                str(bindir / "pg_ctl"),
                "-D",
                str(datadir),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        if start.returncode == 0:
            break
        text = log.read_text(errors="replace")[-2000:] if log.exists() else start.stderr
        if "Address already in use" not in text:
            raise PostgresUnavailable(f"pg_ctl start failed: {text}")
    else:
        raise PostgresUnavailable(f"pg_ctl start failed {PORT_ATTEMPTS} times on ports in use: {text}")
    return PostgresServer(bindir=bindir, datadir=datadir, port=port, runas=runas)
