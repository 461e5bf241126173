"""One add_runs call in the journal: its lease, the client ids written ahead of each request, the
runs the API confirmed, and the statements that keep them.

A call costs two transactions however it goes, plus one per request it sends; the call waits for
all but the last::

    begin    take the call's lease; read the client ids earlier attempts wrote      (one transaction)
    sending  before each request: its client ids, with the confirmations so far    (one per request)
    end      the rest of the confirmations, ids refused outright, the call's
             count, the lease released                                (one transaction, queued)

A confirmation rides on the next write instead of a transaction of its own, and the last ones on
a write the call does not wait for: a crash before that write loses them, which costs a repeat of
the call one settle wait, never a duplicate (the ids are written ahead, so the repeat reads the
group before sending any of them again). The lease is released by the same write: the same call
in this process queues its own lease behind it; elsewhere it waits those few milliseconds more.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from ._backend import Row, Tx
from ._records import SentId

if TYPE_CHECKING:
    from ._journal import Journal

logger = logging.getLogger("taskgroup_mcp.journal")


# -- statements (each runs inside a transaction the caller opened) -------------------------------


def take_lease(tx: Tx, name: str, owner: str, now: float, ttl: float) -> float | None:
    """Take (or renew) the lease ``name`` for ``owner`` unless another owner holds it unexpired.
    Returns None when ``owner`` holds it now, else when the other holder's lease runs out."""
    tx.execute(
        "INSERT INTO tg_leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) "
        "DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
        "WHERE tg_leases.owner = excluded.owner OR tg_leases.expires_at <= ?",
        (name, owner, now + ttl, now),
    )
    rows = tx.fetchall("SELECT owner, expires_at FROM tg_leases WHERE name = ?", (name,))
    if rows and rows[0][0] != owner:
        return float(rows[0][1])
    return None


def take_lease_and_read_sent(
    tx: Tx, name: str, owner: str, now: float, ttl: float, call: tuple[str, str, str]
) -> tuple[float | None, dict[str, SentId]]:
    """:func:`take_lease`, and what earlier attempts of ``call`` (api, group, call key) sent, read
    together (one round trip): (None, the ids) when ``owner`` holds the lease now, else (when the
    other holder's lease runs out, {})."""
    tx.execute(
        "INSERT INTO tg_leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) "
        "DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
        "WHERE tg_leases.owner = excluded.owner OR tg_leases.expires_at <= ?",
        (name, owner, now + ttl, now),
    )
    lease, sends = tx.fetch_each(
        [("SELECT owner, expires_at FROM tg_leases WHERE name = ?", (name,)), (SENDS_QUERY, call)]
    )
    if lease and lease[0][0] != owner:
        return float(lease[0][1]), {}
    return None, fold_sends(sends)


def release_lease(tx: Tx, name: str, owner: str) -> None:
    tx.execute("DELETE FROM tg_leases WHERE name = ? AND owner = ?", (name, owner))


SENDS_QUERY = (
    "SELECT at, sender, sent, confirmed, refused FROM tg_sends "
    "WHERE api = ? AND group_id = ? AND call_key = ? ORDER BY at"
)


def _loaded(text: Any, kind: type) -> Any:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return kind()
    return value if isinstance(value, kind) else kind()


def fold_sends(rows: Iterable[Row]) -> dict[str, SentId]:
    """Each client id's state from a call's writes, oldest first: when it was last sent (and by
    whom) while unconfirmed, the run id the API confirmed; ids refused outright before any
    confirmation are gone."""
    state: dict[str, list[Any]] = {}  # cid -> [sent_at, run_id, sender]
    for at, sender, sent, confirmed, refused in rows:
        for cid, run_id in cast("dict[str, Any]", _loaded(confirmed, dict)).items():
            entry = state.get(cid)
            if entry is None:
                state[cid] = [float(at), str(run_id), sender]
            else:
                entry[1] = str(run_id)
        for cid in cast("list[Any]", _loaded(refused, list)):
            entry = state.get(str(cid))
            if entry is not None and entry[1] is None:
                del state[str(cid)]
        for cid in cast("list[Any]", _loaded(sent, list)):
            entry = state.get(str(cid))
            if entry is None:
                state[str(cid)] = [float(at), None, sender]
            elif entry[1] is None:
                entry[0], entry[2] = float(at), sender
    return {cid: SentId(cid, e[0], e[1], e[2]) for cid, e in state.items()}


def read_sent(tx: Tx, api: str, group_id: str, call_key: str) -> dict[str, SentId]:
    return fold_sends(tx.fetchall(SENDS_QUERY, (api, group_id, call_key)))


def put_sends(
    tx: Tx,
    api: str,
    group_id: str,
    call_key: str,
    at: float,
    sender: str,
    *,
    sent: Sequence[str] = (),
    confirmed: Mapping[str, str] | None = None,
    refused: Sequence[str] = (),
) -> None:
    """One write of a call: ids about to be sent, runs the API confirmed (client id -> run id),
    ids whose request was refused outright. One row however many ids (a 1,000-input request
    costs what a 5-input one does)."""
    if not sent and not confirmed and not refused:
        return
    tx.execute(
        "INSERT INTO tg_sends (api, group_id, call_key, at, sender, sent, confirmed, refused) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            api,
            group_id,
            call_key,
            at,
            sender,
            json.dumps(list(dict.fromkeys(sent)), separators=(",", ":")),
            json.dumps(dict(confirmed or {}), separators=(",", ":")),
            json.dumps(list(refused), separators=(",", ":")),
        ),
    )


def put_submission(
    tx: Tx, api: str, group_id: str, call_key: str, inputs: int, added: int, now: float
) -> None:
    tx.execute(
        "INSERT INTO tg_submissions (api, group_id, call_key, first_at, last_at, inputs, added) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (api, group_id, call_key) DO UPDATE SET "
        "last_at = excluded.last_at, added = tg_submissions.added + excluded.added",
        (api, group_id, call_key, now, now, inputs, added),
    )


# -- the call ------------------------------------------------------------------------------------


class Submission:
    """One call, as :meth:`Journal.submission` began it: the write-ahead hook a submission engine
    calls (``sending`` before each request, ``confirmed`` with what the API confirmed), then
    :meth:`finished` with the outcome. Never raises: a journal that fails is noted and the call
    goes on against the API (exactly-once then holds within this process only)."""

    def __init__(
        self,
        journal: Journal,
        api: str,
        group_id: str,
        call_key: str,
        *,
        inputs: int,
        sent: dict[str, SentId],
        lease: tuple[str, str] | None,
    ) -> None:
        self._journal = journal
        self.api = api
        self.group_id = group_id
        self.call_key = call_key
        self.inputs = inputs
        self.sent = sent
        """The client ids of this call that earlier attempts wrote ahead (and what the API confirmed)."""
        self.lease = lease
        """(name, owner) of the lease this call holds; None when the journal could not lock."""
        self._confirmed: dict[str, str] = {}
        self._refused: list[str] = []
        self._added = 0

    @property
    def locked(self) -> bool:
        return self.lease is not None

    @property
    def sender(self) -> str:
        """This server process, as the ids it writes name it (``SentId.sender``)."""
        return self._journal.instance

    async def sending(self, group_id: str, call_key: str, cids: Sequence[str]) -> None:
        """Before the request carrying ``cids``: from now on they may exist in the group."""
        del call_key  # the journal's own name for this call is used (self.call_key)
        confirmed, self._confirmed = self._confirmed, {}
        at = self._journal.clock()

        def write(tx: Tx) -> None:
            put_sends(tx, self.api, group_id, self.call_key, at, self.sender, sent=cids, confirmed=confirmed)

        if not await self._journal.write("write-ahead", write):
            self._confirmed = confirmed | self._confirmed  # tried again at the end

    async def confirmed(self, group_id: str, runs: Mapping[str, str]) -> None:
        """The API confirmed ``runs`` (client id -> run id): kept with the next write."""
        del group_id
        self._confirmed.update(runs)

    def finished(self, *, added: int, refused: Sequence[str] = ()) -> None:
        """The call's outcome: inputs it added, client ids whose requests were refused outright."""
        self._added = added
        self._refused = list(refused)

    def end(self) -> None:
        """The call's last write, queued (no answer waits for it): confirmations, refusals, its
        count, the lease released."""
        confirmed, self._confirmed = self._confirmed, {}
        at = self._journal.clock()

        def write(tx: Tx) -> None:
            put_sends(
                tx, self.api, self.group_id, self.call_key, at, self.sender,
                confirmed=confirmed, refused=self._refused,
            )  # fmt: skip
            put_submission(tx, self.api, self.group_id, self.call_key, self.inputs, self._added, at)
            if self.lease is not None:
                release_lease(tx, *self.lease)

        self._journal.write_soon("submission", write)
