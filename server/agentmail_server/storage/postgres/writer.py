"""The PostgreSQL writer of one process: a bounded queue, group commit, then the feed.

The same policy as the SQLite writer (:mod:`agentmail_server.storage.sqlite.writer`): every
write operation goes through one bounded queue to one connection; the writer takes everything
queued (up to ``max_batch``), runs it in one transaction with a SAVEPOINT per operation (a
failing operation is rolled back alone), commits once, resolves each caller's future and then
publishes one :class:`~agentmail_server.domain.events.Commit` — after the commit, in commit
order, once (ports invariants 1, 4 and 5). With an empty queue a lone write commits at once.

Why one connection per process rather than one per operation: concurrent sends share a commit
(one WAL flush on the server for the batch), and the commit feed is published in this process's
commit order for free. Across processes, positions stay gap-free through the ``positions`` row
(see :mod:`.schema`).

Full queue: :meth:`PgWriter.submit` fails fast with RESOURCE_EXHAUSTED (WRITER_OVERLOADED).
A batch the database cannot commit (connection lost, server down) fails every operation in it
with UNAVAILABLE (STORAGE_UNAVAILABLE); the writer reconnects for the next batch and tells its
health listeners, and the next batch that commits tells them None.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import psycopg

from agentmail_server.domain.events import Commit, CommitBuilder
from agentmail_server.errors import AgentmailError, ResourceExhausted, Unavailable
from agentmail_server.histogram import BucketCounts
from agentmail_server.storage.group_commit import hand_back
from agentmail_server.storage.ports import WriteHealthListener
from agentmail_server.storage.postgres import schema
from agentmail_server.storage.postgres.connection import Conn, connect, describe, unavailable
from agentmail_server.storage.postgres.listen import CHANNEL
from agentmail_server.storage.postgres.writes import TAKEN
from agentmail_server.storage.stats import BATCH_SIZE_BOUNDS, COMMIT_SECONDS_BOUNDS, WriterStats

logger = logging.getLogger(__name__)

T = TypeVar("T")
Operation = Callable[[Conn], Awaitable[T]]
# Records what a committed operation changed (its result) for the commit feed.
Recorder = Callable[[CommitBuilder, T], None]


@dataclasses.dataclass
class _Job(Generic[T]):
    operation: Operation[T]
    future: asyncio.Future[T]
    record: Recorder[T] | None


class PgWriter:
    """Owns this process's write connection and applies queued operations in group commits."""

    def __init__(
        self,
        url: str,
        queue_size: int,
        max_batch: int,
        publish: Callable[[Commit], None],
        started: Callable[[], None] = lambda: None,
        settled: Callable[[], None] = lambda: None,
    ) -> None:
        self._url = url
        # Told before each batch and after its commit was handed to ``publish`` (or it
        # failed): the ordered feed waits for a batch in between (see .push).
        self._started = started
        self._settled = settled
        self._max_batch = max_batch
        # None is the stop sentinel queued behind the last job by close().
        self._queue: asyncio.Queue[_Job[Any] | None] = asyncio.Queue(maxsize=queue_size)
        self._queue_size = queue_size
        self._conn: Conn | None = None
        self._task: asyncio.Task[None] | None = None
        # The ordered feed's publish_local (see .push): it may hold a commit back behind
        # another process's positions, never publishes one twice.
        self._publish = publish
        self._closing = False
        self._batches = 0
        self._operations = 0
        self._failed = 0
        self._rejected = 0
        self._last_batch = 0
        self._last_commit = 0.0
        self._batch_sizes = BucketCounts(BATCH_SIZE_BOUNDS)
        self._commit_seconds = BucketCounts(COMMIT_SECONDS_BOUNDS)
        self._failure: Unavailable | None = None
        self._listeners: list[WriteHealthListener] = []

    def watch(self, listener: WriteHealthListener) -> None:
        """Call ``listener`` with the error when whole batches start failing, None after."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Connect, migrate the schema and start taking operations.

        Raises:
            RuntimeError: the database cannot be reached or its schema is newer than ours.
        """
        self._conn = await connect(self._url)
        before = await schema.migrate(self._conn)
        if before != schema.SCHEMA_VERSION:
            logger.info(
                "PostgreSQL database %s migrated from schema %s to %s",
                describe(self._url),
                before,
                schema.SCHEMA_VERSION,
            )
        self._task = asyncio.create_task(self._run(), name="postgres-writer")

    async def submit(self, operation: Operation[T], record: Recorder[T] | None = None) -> T:
        """Queue ``operation`` and wait until its batch has committed; returns its result.

        If the awaiting caller is cancelled, the write still happens.

        Raises:
            ResourceExhausted: the queue is full.
            Unavailable: the writer is shutting down, or the batch could not commit.
            AgentmailError: whatever the operation raised (its changes are rolled back).
        """
        if self._closing:
            raise Unavailable("SHUTTING_DOWN", "the server is shutting down", retry_after_seconds=1)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Job(operation, future, record))
        except asyncio.QueueFull:
            self._rejected += 1
            raise ResourceExhausted(
                "WRITER_OVERLOADED",
                f"the write queue is full ({self._queue_size} waiting); retry shortly",
                metadata={"queueCapacity": str(self._queue_size)},
                retry_after_seconds=0.05,
            ) from None
        return await future

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            if job is None:
                return
            batch: list[_Job[Any]] = [job]
            stop = False
            while len(batch) < self._max_batch and not self._queue.empty():
                queued = self._queue.get_nowait()
                if queued is None:
                    stop = True
                    break
                batch.append(queued)
            self._started()
            try:
                outcomes, failure = await self._apply(batch)
                self._set_failure(failure)
                commit = hand_back(batch, outcomes)
                if commit is not None:
                    self._publish(commit)
            finally:
                self._settled()
            if stop:
                return

    async def _apply(
        self, batch: list[_Job[Any]]
    ) -> tuple[list[tuple[bool, Any]], Unavailable | None]:
        started = time.perf_counter()
        outcomes: list[tuple[bool, Any]] = []
        taken = [0]
        TAKEN.set(taken)  # the writer task's own context: its operations see this list
        try:
            conn = await self._connection()
            if len(batch) == 1:
                # A lone operation is its own transaction: no savepoint, two round trips fewer.
                outcomes.append(await _outcome(conn, batch[0], taken))
            else:
                async with conn.transaction():
                    for job in batch:
                        outcomes.append(await _outcome(conn, job))  # a SAVEPOINT each
                    await _notify(conn, taken)
        except Exception as exc:
            logger.warning("group commit of %d operations failed: %s", len(batch), exc)
            await self._drop_connection()
            failure = unavailable(exc)
            return [(False, failure)] * len(batch), failure
        self._batches += 1
        self._operations += len(batch)
        self._failed += sum(1 for ok, _ in outcomes if not ok)
        self._last_batch = len(batch)
        self._last_commit = elapsed = time.perf_counter() - started
        self._batch_sizes.observe(len(batch))
        self._commit_seconds.observe(elapsed)
        return outcomes, None

    async def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = await connect(self._url)
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def _set_failure(self, failure: Unavailable | None) -> None:
        changed = (failure is None) != (self._failure is None)
        self._failure = failure
        if not changed:
            return
        if failure is not None:
            logger.error("writes to PostgreSQL are failing (%s)", failure.reason)
        else:
            logger.warning("writes to PostgreSQL commit again")
        for listener in self._listeners:
            listener(failure)

    def stats(self) -> WriterStats:
        """A snapshot of queue depth and commit counters."""
        return WriterStats(
            queue_depth=self._queue.qsize(),
            queue_capacity=self._queue_size,
            batches=self._batches,
            operations=self._operations,
            failed_operations=self._failed,
            rejected_full=self._rejected,
            last_batch_size=self._last_batch,
            last_commit_seconds=self._last_commit,
            batch_size_counts=self._batch_sizes.counts(),
            commit_seconds_counts=self._commit_seconds.counts(),
            commit_seconds_sum=self._commit_seconds.total,
        )

    async def close(self) -> None:
        """Refuse new writes, finish everything already queued, then close the connection."""
        self._closing = True
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        await self._drop_connection()


async def _notify(conn: Conn, taken: list[int]) -> None:
    """The transaction's one wake-up for the other processes (see :mod:`.listen`), when it
    took positions: NOTIFY is delivered at commit, and a notifying commit takes a global lock,
    so one per transaction, with nothing but the highest position in it."""
    if taken[0]:
        await conn.execute(b"SELECT pg_notify(%s, %s)", (CHANNEL, str(taken[0])))


async def _outcome(conn: Conn, job: _Job[Any], taken: list[int] | None = None) -> tuple[bool, Any]:
    """Run one operation in a transaction of its own (a savepoint inside a batch's): its
    result, or its own error after its changes are rolled back. ``taken`` is given for a
    transaction of its own, which then ends with the NOTIFY (:func:`_notify`).

    Raises:
        psycopg.OperationalError, psycopg.InterfaceError: the connection or server failed,
            which fails the whole batch.
    """
    try:
        async with conn.transaction():
            result = await job.operation(conn)
            if taken is not None:
                await _notify(conn, taken)
            return True, result
    except Exception as exc:
        if isinstance(exc, _CONNECTION_ERRORS):
            raise
        return False, _operation_error(exc)


# Errors that mean the connection or the server failed, not the operation that saw them.
_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def _operation_error(exc: Exception) -> AgentmailError:
    """An operation's own failure as the caller sees it. A unique-key race with another
    process (two registrations of one name at once) is reported as a conflict to retry;
    anything else unexpected is logged (a bug) and reported as UNAVAILABLE, never INTERNAL."""
    if isinstance(exc, AgentmailError):
        return exc
    if not isinstance(exc, psycopg.errors.IntegrityError):
        logger.exception("write operation failed")
        return unavailable(exc)
    return Unavailable(
        "WRITE_CONFLICT",
        "a concurrent write from another server conflicted with this one; retry",
        retry_after_seconds=0.05,
    )
