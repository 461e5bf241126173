"""The journal's schema as versioned migrations, the same SQL for SQLite and PostgreSQL.

The server applies every migration newer than the database's version when it starts, inside one
locked transaction (so replicas starting together apply each once); a database written by a newer
version is refused rather than guessed at. Append a migration, never edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "groups, submissions, client ids written ahead, leases, fan_out calls",
        [
            """CREATE TABLE IF NOT EXISTS tg_groups (
                api TEXT NOT NULL, tenant TEXT NOT NULL, group_id TEXT NOT NULL,
                label TEXT, created_at DOUBLE PRECISION NOT NULL,
                processors TEXT NOT NULL DEFAULT '[]', schema_fp TEXT,
                inputs_sent BIGINT NOT NULL DEFAULT 0, cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
                status TEXT, active INTEGER, status_at DOUBLE PRECISION,
                PRIMARY KEY (api, tenant, group_id))""",
            """CREATE TABLE IF NOT EXISTS tg_submissions (
                api TEXT NOT NULL, group_id TEXT NOT NULL, call_key TEXT NOT NULL,
                first_at DOUBLE PRECISION NOT NULL, last_at DOUBLE PRECISION NOT NULL,
                inputs BIGINT NOT NULL, added BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (api, group_id, call_key))""",
            """CREATE TABLE IF NOT EXISTS tg_sent (
                api TEXT NOT NULL, group_id TEXT NOT NULL, cid TEXT NOT NULL, call_key TEXT NOT NULL,
                sent_at DOUBLE PRECISION NOT NULL, run_id TEXT,
                PRIMARY KEY (api, group_id, cid))""",
            """CREATE TABLE IF NOT EXISTS tg_leases (
                name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS tg_fan_outs (
                api TEXT NOT NULL, tenant TEXT NOT NULL, call_hash TEXT NOT NULL, group_id TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (api, tenant, call_hash))""",
        ],
    ),
    (
        2,
        "indexes for listing newest first and for pruning old client ids",
        [
            "CREATE INDEX IF NOT EXISTS tg_groups_newest ON tg_groups (api, tenant, created_at, group_id)",
            "CREATE INDEX IF NOT EXISTS tg_sent_by_call ON tg_sent (api, group_id, call_key)",
            "CREATE INDEX IF NOT EXISTS tg_sent_by_time ON tg_sent (sent_at)",
        ],
    ),
    (
        3,
        "which server process wrote each client id (a repeat by another process settles first)",
        ["ALTER TABLE tg_sent ADD COLUMN sender TEXT"],
    ),
    (
        4,
        "client ids kept per request (one row per write, not per id): what a call sent, confirmed, refused",
        [
            """CREATE TABLE IF NOT EXISTS tg_sends (
                api TEXT NOT NULL, group_id TEXT NOT NULL, call_key TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL, sender TEXT NOT NULL,
                sent TEXT NOT NULL, confirmed TEXT NOT NULL, refused TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS tg_sends_by_call ON tg_sends (api, group_id, call_key, at)",
            "CREATE INDEX IF NOT EXISTS tg_sends_by_time ON tg_sends (at)",
            # Client ids are hex digits: each becomes a one-id JSON array as it is. Confirmed run ids
            # are not carried over (a repeat of such a call settles once before resending).
            """INSERT INTO tg_sends (api, group_id, call_key, at, sender, sent, confirmed, refused)
                SELECT api, group_id, call_key, sent_at, COALESCE(sender, ''), '["' || cid || '"]', '{}', '[]'
                FROM tg_sent""",
            "DROP TABLE tg_sent",
        ],
    ),
    (
        5,
        "the spend ledger shared by processes and replicas: each batch reserved, then settled",
        [
            """CREATE TABLE IF NOT EXISTS tg_spend (
                id TEXT PRIMARY KEY, api TEXT NOT NULL, account TEXT NOT NULL, group_id TEXT NOT NULL,
                call TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, usd DOUBLE PRECISION NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS tg_spend_by_time ON tg_spend (api, account, at)",
            "CREATE INDEX IF NOT EXISTS tg_spend_by_group ON tg_spend (api, account, group_id)",
        ],
    ),
]

VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS tg_schema (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL, "
    "description TEXT NOT NULL)"
)
LATEST = MIGRATIONS[-1][0]
