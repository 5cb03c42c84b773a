"""The PostgreSQL backend behind :mod:`agentmail_server.storage.ports`.

One writer connection per process applies every write in group commits (:mod:`.writer`); a
bounded pool of connections serves the reads. Positions are gap-free and commit-ordered across
every process sharing the database (:mod:`.schema`). The commit feed carries every process's
messages and notices, once each, in position order (:mod:`.push`): this process's own commits
at once, the others' read from the tables when a NOTIFY (:mod:`.listen`) or the safety poll
says there is something new. Only this process's commits carry what has no position
(receipts, agents, projects, deduplicated sends), so counters fed by the feed count those of
this process alone.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Mapping, Sequence

from agentmail_server.domain.drafts import Draft, Registration, Sent
from agentmail_server.domain.events import AgentChange, CommitBuilder, Receipts
from agentmail_server.domain.models import Agent, DeliveryState, Project, now_micros
from agentmail_server.errors import AgentmailError
from agentmail_server.storage.feed import CommitPublisher
from agentmail_server.storage.ports import WriteHealthListener
from agentmail_server.storage.postgres import sends, shared_key, writes
from agentmail_server.storage.postgres.coordination import (
    PgContactWrites,
    PgLifecycleWrites,
    PgReservationReads,
    PgReservationWrites,
)
from agentmail_server.storage.postgres.listen import Listener
from agentmail_server.storage.postgres.push import OrderedFeed
from agentmail_server.storage.postgres.queries import PgQueries
from agentmail_server.storage.postgres.readers import ReadPool
from agentmail_server.storage.postgres.receipts import PgReceipts
from agentmail_server.storage.postgres.retention import PgRetentionWrites
from agentmail_server.storage.postgres.search import PgSearch
from agentmail_server.storage.postgres.writer import PgWriter
from agentmail_server.storage.stats import ReadPoolStats, WriterStats


class PgMailWrites:
    """Sends and receipts through the writer."""

    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def insert_message(self, draft: Draft, now: int) -> Sent:
        """Store a message and its deliveries, or return the original for a repeated key."""
        operation = functools.partial(sends.insert_message, draft=draft, now=now)
        return await self._writer.submit(operation, CommitBuilder.sent)

    async def insert_messages(
        self, drafts: Sequence[Draft], now: int
    ) -> list[Sent | AgentmailError]:
        """Store several messages in one write operation (a savepoint each); one outcome per
        draft, in order."""
        operation = functools.partial(sends.insert_messages, drafts=drafts, now=now)
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


class PgAgentWrites:
    """Projects, agents and tokens through the writer."""

    def __init__(self, writer: PgWriter) -> None:
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
            writes.rotate_token,
            agent_id=agent_id,
            new_hash=new_hash,
            now=now,
            overlap_micros=overlap_micros,
        )
        await self._writer.submit(operation)

    async def revoke_tokens(self, agent_id: int, now: int, replacement_hash: str | None) -> int:
        """Delete every token of the agent (and store the replacement, if any)."""
        operation = functools.partial(
            writes.revoke_tokens, agent_id=agent_id, now=now, replacement_hash=replacement_hash
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


class PostgresStorage:
    """The scale-out backend: a PostgreSQL database that several processes may share.

    Args:
        url: the ``postgresql://`` URL (never logged: it may hold a password).
        queue_size: how many write operations may wait; beyond it writes fail fast.
        max_batch: at most this many operations per group commit.
        read_pool_size: pooled read connections.
    """

    def __init__(self, url: str, *, queue_size: int, max_batch: int, read_pool_size: int) -> None:
        self._publisher = CommitPublisher()
        self._pool = ReadPool(url, read_pool_size)
        self._ordered = OrderedFeed(self._pool, self._publisher.publish)
        self._listener = Listener(url, self._ordered.hint)
        self._writer = PgWriter(
            url,
            queue_size,
            max_batch,
            self._ordered.publish_local,
            self._ordered.local_batch_started,
            self._ordered.local_batch_settled,
        )
        self._mail = PgMailWrites(self._writer)
        self._agents = PgAgentWrites(self._writer)
        self._retention = PgRetentionWrites(url)
        self._reservations = PgReservationWrites(self._writer)
        self._reservation_reads = PgReservationReads(self._pool)
        self._contacts = PgContactWrites(self._writer)
        self._lifecycle = PgLifecycleWrites(self._writer)
        self._reads = PgQueries(self._pool)
        self._search = PgSearch(self._pool)
        self._receipts = PgReceipts(self._pool)

    @property
    def mail(self) -> PgMailWrites:
        """Mail writes."""
        return self._mail

    @property
    def retention(self) -> PgRetentionWrites:
        """Purges of old mail (on a connection of their own: see :mod:`.retention`)."""
        return self._retention

    @property
    def agents(self) -> PgAgentWrites:
        """Project and agent writes."""
        return self._agents

    @property
    def reservations(self) -> PgReservationWrites:
        """File reservation writes (not ported yet)."""
        return self._reservations

    @property
    def reservation_reads(self) -> PgReservationReads:
        """File reservation reads."""
        return self._reservation_reads

    @property
    def contacts(self) -> PgContactWrites:
        """Contact policy writes (requests and responses not ported yet)."""
        return self._contacts

    @property
    def lifecycle(self) -> PgLifecycleWrites:
        """Retirement and presence writes."""
        return self._lifecycle

    @property
    def reads(self) -> PgQueries:
        """Reads."""
        return self._reads

    @property
    def search(self) -> PgSearch:
        """Search reads."""
        return self._search

    @property
    def receipts(self) -> PgReceipts:
        """Receipt and acknowledgement reads."""
        return self._receipts

    @property
    def feed(self) -> CommitPublisher:
        """This process's commit feed."""
        return self._publisher

    @property
    def database_files(self) -> tuple[tuple[str, pathlib.Path], ...]:
        """None: the database's files are the PostgreSQL server's."""
        return ()

    async def start(self) -> None:
        """Connect, migrate (refusing a newer schema), then open the read pool.

        Raises:
            RuntimeError: PostgreSQL cannot be reached or its schema is newer than ours.
        """
        await self._writer.start()
        await self._pool.start()
        await self._ordered.start()
        self._listener.start()

    async def shared_cursor_key(self, local: bytes) -> bytes:
        """The database's cursor key, stored from ``local`` by the first server to start."""
        return await self._writer.submit(shared_key.adopt(local, now_micros()))

    def writer_stats(self) -> WriterStats:
        """A snapshot of the write queue and its commits."""
        return self._writer.stats()

    def watch_writes(self, listener: WriteHealthListener) -> None:
        """Call ``listener`` with the error while whole commits fail, None once they work."""
        self._writer.watch(listener)

    def read_pool_stats(self) -> ReadPoolStats:
        """A snapshot of the read connections."""
        return self._pool.stats()

    async def close(self) -> None:
        """Commit everything queued, close the writer, then the readers."""
        await self._writer.close()
        await self._retention.close()
        await self._listener.close()
        await self._ordered.close()
        await self._pool.close()
