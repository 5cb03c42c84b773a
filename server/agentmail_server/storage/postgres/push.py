"""Cross-process push: this process's commit feed carries every position committed by any
process sharing the database, once each, in position order.

Positions (message ids and notice positions) are assigned under the ``positions`` row lock, so
they commit in one global order (:mod:`.schema`): once position N is committed, every lower
position is committed (or was rolled back and reused). :class:`OrderedFeed` therefore needs
only one number, ``last`` — the highest position this process has published — to publish
exactly once and in order:

* A local commit (the writer's, just after it committed) whose lowest position is
  ``last + 1`` is published at once, as before: no read on the hot path. One whose positions
  are all ``<= last`` (a catch-up published them first) keeps only what carries no position
  (receipts, agents...). One that leaves a gap (another process committed positions in
  between) waits in a bounded queue while the catch-up reads the gap from the tables.
* A wake-up — a NOTIFY from any process (:mod:`.listen`), the slow safety poll, a reconnect —
  makes the catch-up task read everything committed after ``last`` (in bounded slices, in one
  REPEATABLE READ snapshot each, up to the counter's committed value) and publish it as
  Commits built from the rows; then the queued local commits follow, filtered to what is
  still new.

A NOTIFY carries the sender's highest position, so a process ignores its own notifications
(already published) without a read. The tables are the record; NOTIFY is only a hint.

A catch-up read may see this process's own batch committed before the writer has handed it to
:meth:`OrderedFeed.publish_local` (its own NOTIFY, or the safety poll, can arrive in between).
Published from the rows, that batch would go out as another process's (``remote``: the send
counters skip it, and it would be rebuilt rather than published whole). So the writer says
when a batch starts and when it has been handed over (:meth:`OrderedFeed.local_batch_started`,
:meth:`~OrderedFeed.local_batch_settled`), and a read waits, before it publishes anything, for
every local batch that had started by the time the read returned (at most one batch's time).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
from collections.abc import Callable

from agentmail_server.domain.drafts import Sent
from agentmail_server.domain.events import Commit
from agentmail_server.domain.models import Recipient, RecipientKind
from agentmail_server.domain.notices import Notice, decode_detail
from agentmail_server.storage.postgres.readers import ReadPool
from agentmail_server.storage.postgres.rows import message_from_row
from agentmail_server.storage.sqlite.rows import MESSAGE_COLUMNS

logger = logging.getLogger(__name__)

# At most this many positions per catch-up read: bounds the memory of one read.
READ_SLICE = 500
# Local commits waiting behind a gap; beyond this a commit's messages and notices are left to
# the catch-up (the tables have them) and only the rest of it is published at once.
MAX_WAITING = 1024
# After a failed catch-up read (database unreachable), wait this long before the next try.
RETRY_SECONDS = 0.5

COMMITTED_POSITION = "SELECT value FROM positions WHERE name = 'mail'"


def _low(commit: Commit) -> int | None:
    """The lowest position in ``commit`` (None when it has none)."""
    low = min((sent.message.id for sent in commit.messages), default=None)
    for notice in commit.notices:
        low = notice.position if low is None else min(low, notice.position)
    return low


def _high(commit: Commit) -> int:
    """The highest position in ``commit`` (0 when it has none)."""
    high = max((sent.message.id for sent in commit.messages), default=0)
    return max(high, max((notice.position for notice in commit.notices), default=0))


def _empty(commit: Commit) -> bool:
    return not (
        commit.messages
        or commit.deduplicated_sends
        or commit.projects
        or commit.agents
        or commit.receipts
        or commit.reservations
        or commit.notices
    )


def _without(commit: Commit | None, positions: set[int]) -> Commit | None:
    """``commit`` without the messages and notices at ``positions``."""
    if commit is None:
        return None
    return dataclasses.replace(
        commit,
        messages=tuple(s for s in commit.messages if s.message.id not in positions),
        notices=tuple(n for n in commit.notices if n.position not in positions),
    )


def _below(commit: Commit, position: int) -> Commit:
    """The part of ``commit`` below ``position``."""
    return dataclasses.replace(
        commit,
        messages=tuple(s for s in commit.messages if s.message.id < position),
        notices=tuple(n for n in commit.notices if n.position < position),
    )


class OrderedFeed:
    """Owns ``last`` and publishes local and remote positions to ``publish`` once, in order.

    Runs on the event loop only; :meth:`publish_local` and :meth:`hint` never block.
    """

    def __init__(self, pool: ReadPool, publish: Callable[[Commit], None]) -> None:
        self._pool = pool
        self._publish = publish
        self._last = 0
        self._waiting: collections.deque[Commit] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.remote_reads = 0
        # Local writer batches begun and handed over (or failed): see the module docstring.
        self._started = 0
        self._settled = 0
        self._settle = asyncio.Event()

    @property
    def last(self) -> int:
        """The highest position published so far."""
        return self._last

    async def start(self) -> None:
        """Start after everything committed so far (published by nobody here: it is history)."""
        row = await self._pool.fetchone(COMMITTED_POSITION)
        self._last = int(row[0]) if row is not None else 0
        self._task = asyncio.create_task(self._run(), name="postgres-push-catch-up")

    def publish_local(self, commit: Commit) -> None:
        """Publish a commit of this process's writer (called just after it committed)."""
        low = _low(commit)
        if not self._waiting and (low is None or low <= self._last + 1):
            self._emit(commit)
            return
        if len(self._waiting) >= MAX_WAITING:
            # Bounded: the messages and notices are in the tables, the catch-up reads them.
            rest = dataclasses.replace(commit, messages=(), notices=())
            if not _empty(rest):
                self._publish(rest)
        else:
            self._waiting.append(commit)
        self._wake.set()

    def local_batch_started(self) -> None:
        """The writer begins a batch (before its transaction)."""
        self._started += 1

    def local_batch_settled(self) -> None:
        """The writer handed that batch's commit to :meth:`publish_local`, or it failed."""
        self._settled += 1
        self._settle.set()

    async def _local_batches_settled(self, started: int) -> None:
        """Wait until the first ``started`` local batches have settled."""
        while self._settled < started:
            self._settle.clear()
            await self._settle.wait()

    def hint(self, position: int | None) -> None:
        """Another process (or the safety poll, when ``position`` is None) says positions up
        to ``position`` may be committed: catch up unless they are published already."""
        if position is None or position > self._last:
            self._wake.set()

    def _emit(self, commit: Commit) -> None:
        """Publish what of ``commit`` is new (positions above ``last``) and move ``last``."""
        last = self._last
        low = _low(commit)
        if low is not None and low <= last:
            commit = dataclasses.replace(
                commit,
                messages=tuple(s for s in commit.messages if s.message.id > last),
                notices=tuple(n for n in commit.notices if n.position > last),
            )
        self._last = max(last, _high(commit))
        if not _empty(commit):
            self._publish(commit)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._catch_up()
            except Exception as exc:  # the database is unreachable: retry, nothing is lost
                logger.warning("catching up with other servers' commits failed: %s", exc)
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

    async def _catch_up(self) -> None:
        """Read and publish everything committed after ``last``; then the waiting commits."""
        while True:
            remote, upper, more = await read_after(self._pool, self._last, READ_SLICE)
            self.remote_reads += 1
            # A local batch the read saw committed goes out whole, as this process's: wait
            # until every batch begun before the read returned has been handed over.
            await self._local_batches_settled(self._started)
            # The waiting local commits the read covers go out as they are (they carry what
            # has no position, and are not another process's), each after the remote
            # positions below it; their own rows in the read are left out.
            covered: list[Commit] = []
            while self._waiting and _high(self._waiting[0]) <= upper:
                covered.append(self._waiting.popleft())
            if covered:
                local = {s.message.id for c in covered for s in c.messages}
                local.update(n.position for c in covered for n in c.notices)
                remote = _without(remote, local)
            for commit in covered:
                low = _low(commit)
                if remote is not None and low is not None:
                    self._emit(_below(remote, low))
                self._emit(commit)
            if remote is not None:
                self._emit(remote)  # what is left of it: filtered to above ``last``
            self._last = max(self._last, upper)
            while self._waiting:
                low = _low(self._waiting[0])
                if low is not None and low > self._last + 1:
                    break  # committed after the read began: the next read covers its gap
                self._emit(self._waiting.popleft())
            if not more and not self._waiting:
                return

    async def close(self) -> None:
        """Stop catching up (what is waiting was committed; its subscribers re-read storage)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


# The upper bound of one catch-up read: the counter's committed value, at most a slice past
# ``after``. Every statement of the read computes it in the same snapshot, so they agree.
_UPPER = "(SELECT least(value, %s) FROM positions WHERE name = 'mail')"


async def read_after(pool: ReadPool, after: int, limit: int) -> tuple[Commit | None, int, bool]:
    """The messages (with their recipients) and notices at positions in ``(after, upper]``,
    as one Commit, where ``upper`` is the counter's committed value capped at ``after +
    limit``; returns ``(commit or None, upper, whether more was committed past upper)``.

    Everything at or below the committed counter value is committed (the counter row is
    locked from a position's assignment to its commit), so nothing read here can be followed
    by a lower position later. The four statements read one snapshot, in one round trip.
    """
    cap = after + limit
    counter, message_rows, delivery_rows, notice_rows = await pool.fetch_together(
        (
            (COMMITTED_POSITION, ()),
            (
                f"SELECT {MESSAGE_COLUMNS}, m.body FROM messages m"
                f" WHERE m.id > %s AND m.id <= {_UPPER} ORDER BY m.id",
                (after, cap),
            ),
            (
                "SELECT d.message_id, d.agent_id, coalesce(a.name, ''), d.kind FROM deliveries d"
                " LEFT JOIN agents a ON a.id = d.agent_id"
                f" WHERE d.message_id > %s AND d.message_id <= {_UPPER}"
                " ORDER BY d.message_id, d.kind",
                (after, cap),
            ),
            (
                "SELECT agent_id, position, created_at, type, payload FROM notices"
                f" WHERE position > %s AND position <= {_UPPER} ORDER BY position",
                (after, cap),
            ),
        )
    )
    committed = int(counter[0][0]) if counter else 0
    upper = max(after, min(committed, cap))
    recipients: dict[int, list[Recipient]] = collections.defaultdict(list)
    for message_id, agent_id, name, kind in delivery_rows:
        recipients[message_id].append(Recipient(agent_id, name, RecipientKind(kind)))
    messages = tuple(
        Sent(message, tuple(recipients.get(message.id, ())), deduplicated=False)
        for message in map(message_from_row, message_rows)
    )
    notices = tuple(Notice(r[0], r[1], r[2], decode_detail(r[3], r[4])) for r in notice_rows)
    commit = (
        Commit(messages=messages, notices=notices, remote=True) if messages or notices else None
    )
    return commit, upper, committed > upper
