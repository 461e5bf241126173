"""The journal: the server's durable record of what it created and sent.

Per group: who created it (a tenant hash, never a key), its label, when, the processors and the
output schema's fingerprint, the inputs added and their estimated cost, the last status seen. Per
submission: the call key and every client id, written *before* the request that carries it, with
the run id the API confirmed. Leases serialize the same call across processes and replicas.

SQLite in the state directory by default (WAL, several processes at once); PostgreSQL when
``TASKGROUP_MCP_DATABASE_URL`` is set; nothing at all with ``TASKGROUP_MCP_STATE=off``::

    journal = open_journal(settings)          # None when the state is off
    await journal.start()                     # opens and migrates; degraded (journal.problem) on failure
    await journal.record_group(Scope(api, tenant), group_id, created_at=..., label="...")
    async with journal.submission(api, group_id, call_key, inputs=n, wait=50) as call:
        call.sent                             # ids earlier attempts wrote ahead (the same call elsewhere waits)
        await call.sending(group_id, call_key, cids)   # before each request (the engine's hook)
        await call.confirmed(group_id, runs)           # what the API confirmed
        call.finished(added=..., refused=[...])

Layer: imports ``wire``, ``config`` and ``client``; ``tools`` and ``commands`` import it.
"""

from ._errors import JournalError
from ._journal import Journal, LeaseBusy, open_journal
from ._records import GroupEntry, Scope
from ._submission import Submission

__all__ = [
    "GroupEntry",
    "Journal",
    "JournalError",
    "LeaseBusy",
    "Scope",
    "Submission",
    "open_journal",
]
