"""The SQLite backend behind :mod:`agentmail_server.storage.ports`.

One writer thread owns the only read-write connection (group commit, see :mod:`.writer`); a
small pool of read-only connections serves the reads under WAL. Each write port method binds
its arguments to a plain function of :mod:`.writes` and says what the operation changed for
the commit feed.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Mapping, Sequence

from agentmail_server.config import SyncMode
from agentmail_server.domain.drafts import Draft, Registration, Sent
from agentmail_server.domain.events import AgentChange, CommitBuilder, Receipts
from agentmail_server.domain.models import Agent, DeliveryState, Project
from agentmail_server.domain.retention import Purged
from agentmail_server.errors import AgentmailError
from agentmail_server.storage.feed import CommitPublisher
from agentmail_server.storage.ports import WriteHealthListener
from agentmail_server.storage.sqlite import bulk_writes, retention, tokens, writes
from agentmail_server.storage.sqlite.coordination import (
    SqliteContactWrites,
    SqliteLifecycleWrites,
)
from agentmail_server.storage.sqlite.indexer import IDLE_SECONDS
from agentmail_server.storage.sqlite.queries import Queries
from agentmail_server.storage.sqlite.readers import ReadPool
from agentmail_server.storage.sqlite.receipts import ReceiptQueries
from agentmail_server.storage.sqlite.reservation_queries import ReservationQueries
from agentmail_server.storage.sqlite.reservation_writes import SqliteReservationWrites
from agentmail_server.storage.sqlite.search import SearchQueries
from agentmail_server.storage.sqlite.writer import Writer
from agentmail_server.storage.stats import ReadPoolStats, WriterStats


class SqliteMailWrites:
    """Sends and receipts through the single writer."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def insert_message(self, draft: Draft, now: int) -> Sent:
        """Store a message and its deliveries, or return the original for a repeated key."""
        operation = functools.partial(writes.insert_message, draft=draft, now=now)
        return await self._writer.submit(operation, CommitBuilder.sent)

    async def insert_messages(
        self, drafts: Sequence[Draft], now: int
    ) -> list[Sent | AgentmailError]:
        """Store several messages in one write operation; one outcome per draft, in order."""
        operation = functools.partial(bulk_writes.insert_messages, drafts=drafts, now=now)
        return await self._writer.submit(operation, _record_sends)

    async def mark_deliveries(
        self, agent_id: int, message_ids: Sequence[int], now: int, *, acknowledge: bool
    ) -> list[DeliveryState]:
        """Set first-wins read (and ack) times; all or nothing."""
        operation = functools.partial(
            writes.mark_deliveries,
            agent_id=agent_id,
            message_ids=message_ids,
            now=now,
            acknowledge=acknowledge,
        )

        def record(changes: CommitBuilder, marked: writes.Marked) -> None:
            changes.receipts.append(Receipts(agent_id, tuple(marked.states), acknowledge))
            changes.notices.extend(marked.notices)

        return (await self._writer.submit(operation, record)).states


class SqliteRetentionWrites:
    """Purges of old mail through the single writer: each batch is one write operation,
    committed with whatever else is queued, so the write lock is never held for long."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def purge_messages(self, before: int, limit: int) -> Purged:
        """Remove up to ``limit`` of the oldest messages created before ``before``."""
        operation = functools.partial(retention.purge_batch, before=before, limit=limit)
        return await self._writer.submit(operation)


class SqliteAgentWrites:
    """Projects and agents through the single writer."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def ensure_project(self, human_key: str, now: int) -> tuple[Project, bool]:
        """The project for ``human_key``, created with a fresh slug if needed."""
        operation = functools.partial(writes.ensure_project, human_key=human_key, now=now)
        return await self._writer.submit(operation, _record_project)

    async def register_agent(self, registration: Registration, now: int) -> tuple[Agent, bool]:
        """Create the agent, or update it when the caller presented its token."""
        operation = functools.partial(writes.register_agent, reg=registration, now=now)
        return await self._writer.submit(operation, _record_registration)

    async def rotate_token(
        self, agent_id: int, new_hash: str, now: int, overlap_micros: int
    ) -> None:
        """Give the agent a new token; the others expire after the overlap."""
        operation = functools.partial(
            tokens.rotate_token,
            agent_id=agent_id,
            new_hash=new_hash,
            now=now,
            overlap_micros=overlap_micros,
        )
        # Tokens are not archived and nothing subscribes to them: nothing to record.
        await self._writer.submit(operation)

    async def revoke_tokens(self, agent_id: int, now: int, replacement_hash: str | None) -> int:
        """Delete every token of the agent (and store the replacement, if any)."""
        operation = functools.partial(
            tokens.revoke_tokens, agent_id=agent_id, now=now, replacement_hash=replacement_hash
        )
        return await self._writer.submit(operation)

    async def update_agent(
        self,
        agent_id: int,
        fields: Mapping[str, str],
        now: int,
        capabilities: Sequence[str] | None = None,
    ) -> Agent:
        """Replace the named profile fields of one agent (and its capabilities when given)."""
        operation = functools.partial(
            writes.update_agent,
            agent_id=agent_id,
            fields=fields,
            now=now,
            capabilities=capabilities,
        )
        return await self._writer.submit(operation, _record_update)


def _record_sends(changes: CommitBuilder, outcomes: list[Sent | AgentmailError]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Sent):
            changes.sent(outcome)


def _record_project(changes: CommitBuilder, result: tuple[Project, bool]) -> None:
    project, created = result
    if created:
        changes.projects.append(project)


def _record_registration(changes: CommitBuilder, result: tuple[Agent, bool]) -> None:
    agent, created = result
    changes.agents.append(AgentChange(agent, created))


def _record_update(changes: CommitBuilder, agent: Agent) -> None:
    changes.agents.append(AgentChange(agent, created=False))


class SqliteStorage:
    """The embedded backend: one database file in WAL mode (see the ports' invariants).

    Args:
        path: the database file (created and migrated on :meth:`start`).
        synchronous: SQLite's ``synchronous`` pragma for the writer.
        queue_size: how many write operations may wait; beyond it writes fail fast.
        max_batch: at most this many operations per group commit.
        read_pool_size: read-only connections.
        index_idle_seconds: how long the writer idles before indexing new mail for search.
    """

    def __init__(
        self,
        path: pathlib.Path,
        *,
        synchronous: SyncMode,
        queue_size: int,
        max_batch: int,
        read_pool_size: int,
        index_idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._path = path
        self._publisher = CommitPublisher()
        self._writer = Writer(
            path, synchronous, queue_size, max_batch, self._publisher, index_idle_seconds
        )
        self._pool = ReadPool(path, read_pool_size)
        self._mail = SqliteMailWrites(self._writer)
        self._agents = SqliteAgentWrites(self._writer)
        self._retention = SqliteRetentionWrites(self._writer)
        self._reservations = SqliteReservationWrites(self._writer)
        self._reservation_reads = ReservationQueries(self._pool)
        self._contacts = SqliteContactWrites(self._writer)
        self._lifecycle = SqliteLifecycleWrites(self._writer)
        self._reads = Queries(self._pool)
        self._search = SearchQueries(self._pool, self._writer.caught_up)
        self._receipts = ReceiptQueries(self._pool)

    @property
    def mail(self) -> SqliteMailWrites:
        """Mail writes."""
        return self._mail

    @property
    def retention(self) -> SqliteRetentionWrites:
        """Purges of old mail."""
        return self._retention

    @property
    def agents(self) -> SqliteAgentWrites:
        """Project and agent writes."""
        return self._agents

    @property
    def reservations(self) -> SqliteReservationWrites:
        """File reservation writes."""
        return self._reservations

    @property
    def reservation_reads(self) -> ReservationQueries:
        """File reservation reads."""
        return self._reservation_reads

    @property
    def contacts(self) -> SqliteContactWrites:
        """Contact policy and link writes."""
        return self._contacts

    @property
    def lifecycle(self) -> SqliteLifecycleWrites:
        """Retirement and presence writes."""
        return self._lifecycle

    @property
    def reads(self) -> Queries:
        """Reads."""
        return self._reads

    @property
    def search(self) -> SearchQueries:
        """Search reads."""
        return self._search

    @property
    def receipts(self) -> ReceiptQueries:
        """Receipt and acknowledgement reads."""
        return self._receipts

    @property
    def feed(self) -> CommitPublisher:
        """The commit feed."""
        return self._publisher

    @property
    def database_files(self) -> tuple[tuple[str, pathlib.Path], ...]:
        """The database and its write-ahead log."""
        path = self._path
        return (("main", path), ("wal", path.with_name(path.name + "-wal")))

    async def start(self) -> None:
        """Create or migrate the database, then open the writer and the readers."""
        await self._writer.start()
        await self._pool.start()

    def writer_stats(self) -> WriterStats:
        """A snapshot of the write queue and its commits."""
        return self._writer.stats()

    def watch_writes(self, listener: WriteHealthListener) -> None:
        """Call ``listener`` with the error while whole commits fail, None once they work."""
        self._writer.watch(listener)

    def read_pool_stats(self) -> ReadPoolStats:
        """A snapshot of the read connections."""
        return self._pool.stats()

    async def shared_cursor_key(self, local: bytes) -> bytes:
        """``local``: one server owns this database, and its data folder holds the key."""
        return local

    async def close(self) -> None:
        """Commit everything queued, close the writer, then the readers."""
        await self._writer.close()
        await self._pool.close()
