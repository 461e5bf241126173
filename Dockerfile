# syntax=docker/dockerfile:1
# taskgroup-mcp: streamable HTTP MCP server, bearer-token auth required by default.
#   docker build -t taskgroup-mcp .
#   docker run -p 8000:8000 -e PARALLEL_API_KEY -e TASKGROUP_MCP_AUTH_TOKENS=<long random token> taskgroup-mcp
# Without a token (TASKGROUP_MCP_AUTH_TOKENS or TASKGROUP_MCP_AUTH_TOKENS_FILE) the server refuses to start.
# On SIGTERM in-flight calls get TASKGROUP_MCP_SHUTDOWN_GRACE_SECONDS to finish: `docker stop -t 60`
# (docker's own default is 10 s).

# ---- builder: build the wheel and install it with its dependencies into a venv ----
FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server/ server/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/*.whl

# ---- runtime: the venv only; no compilers, no pip cache, no sources ----
FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="taskgroup-mcp" \
      org.opencontainers.image.description="MCP server for Parallel Task Group fan-out research" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/taskgroup-mcp/exports \
    && chown -R 10001:10001 /var/lib/taskgroup-mcp
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TASKGROUP_MCP_EXPORT_DIR=/var/lib/taskgroup-mcp/exports \
    TASKGROUP_MCP_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/taskgroup-mcp
EXPOSE 8000
# slim has no curl: probe /healthz with the interpreter that is already there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["taskgroup-mcp"]
CMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
