"""The single writer: every mutation goes through one bounded queue to one connection.

Group commit: the writer takes everything queued (up to ``max_batch``), runs it in one
``BEGIN IMMEDIATE`` transaction on its own thread, commits once (one fsync for the batch) and
then resolves each caller's future. There is no fixed wait: with an empty queue a lone write
commits at once. Each operation runs under its own SAVEPOINT, so one failing operation is rolled
back alone and reported to its caller while the rest of the batch commits.

When the queue is full, :meth:`Writer.submit` fails fast with ``ResourceExhausted`` instead of
growing memory; callers see RESOURCE_EXHAUSTED with retry information.

When a whole batch cannot commit (disk full, read-only, I/O error) every operation in it fails
with ``Unavailable`` and a reason from :mod:`.failures`; :mod:`.write_health` tells the health
listeners and probes until a batch commits again.

The writer is one dedicated thread fed by a ``queue.SimpleQueue``: a send hands its job
straight to the thread (no event-loop task to wake first, no executor future per batch), the
thread takes whatever else is queued for the group commit, and hands the outcomes back with one
``call_soon_threadsafe`` per batch. Measured against the earlier asyncio queue feeding a
one-thread executor: two loop iterations and about a dozen Python objects fewer per batch. The
bound is a count of jobs queued or committing, kept on the loop.

Between batches the same thread runs the full-text indexer (:mod:`.indexer`): one step of its
own transaction when enough messages wait, when the writer has been idle for a moment, when a
search waits for it, and on close until the index is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import pathlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from agentmail_server.config import SyncMode
from agentmail_server.errors import AgentmailError, ResourceExhausted, Unavailable
from agentmail_server.histogram import BucketCounts
from agentmail_server.storage.feed import CommitPublisher
from agentmail_server.storage.group_commit import hand_back
from agentmail_server.storage.ports import WriteHealthListener
from agentmail_server.storage.sqlite import failures, indexer, schema
from agentmail_server.storage.sqlite.connection import open_writer
from agentmail_server.storage.sqlite.write_health import WriteHealth
from agentmail_server.storage.sqlite.writer_items import (
    KICK,
    STOP,
    Call,
    Item,
    Job,
    Kick,
    Operation,
    Recorder,
    Stop,
    settle,
)
from agentmail_server.storage.stats import BATCH_SIZE_BOUNDS, COMMIT_SECONDS_BOUNDS, WriterStats

logger = logging.getLogger(__name__)

T = TypeVar("T")

# SQLite result codes (low byte) that mean the database, not the operation, failed: such an
# error fails the whole batch rather than the one operation that hit it.
_STORAGE_CODES = frozenset({8, 10, 13, 14})  # READONLY, IOERR, FULL, CANTOPEN


class Writer:
    """Owns the read-write connection and applies queued operations in group commits."""

    def __init__(
        self,
        path: pathlib.Path,
        synchronous: SyncMode,
        queue_size: int,
        max_batch: int,
        feed: CommitPublisher,
        index_idle_seconds: float = indexer.IDLE_SECONDS,
    ) -> None:
        self._path = path
        self._synchronous = synchronous
        self._max_batch = max_batch
        # Unbounded as a queue; the bound is on the jobs waiting, ``_submitted`` (counted on
        # the loop only) minus ``_taken`` (counted on the writer thread only, as it takes a
        # batch): submit() refuses at ``queue_size``. Kicks are one at a time (``_kicked``);
        # the other items are the writer's own and few.
        self._inbox: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._submitted = 0
        self._taken = 0
        self._kicked = False
        self._queue_size = queue_size
        # One thread: SQLite connections must not be used from two threads at once, and the
        # thread keeps the blocking commit off the event loop.
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._conn: sqlite3.Connection | None = None
        self._feed = feed
        self._closing = False
        self._batches = 0
        self._operations = 0
        self._failed = 0
        self._rejected = 0
        self._last_batch = 0
        self._last_commit = 0.0
        # Updated on the writer thread only; stats() copies them.
        self._batch_sizes = BucketCounts(BATCH_SIZE_BOUNDS)
        self._commit_seconds = BucketCounts(COMMIT_SECONDS_BOUNDS)
        # Why whole batches fail now (None while they commit), and who wants to know.
        self._health = WriteHealth(
            lambda: self._call(functools.partial(failures.space_returned, self._path)),
            lambda: self.submit(failures.probe),
        )
        # Where the full-text index stands and the searches waiting for it; the idle timer
        # and when the last batch ended (loop time).
        self._index = indexer.Follower()
        self._idle_seconds = index_idle_seconds
        self._idle_timer: asyncio.TimerHandle | None = None
        self._last_batch_end = 0.0

    def watch(self, listener: WriteHealthListener) -> None:
        """Call ``listener`` (on the loop) with the error when whole batches start failing,
        and with None when one commits again."""
        self._health.watch(listener)

    @property
    def failure(self) -> Unavailable | None:
        """Why writes fail now, or None while they commit."""
        return self._health.failure

    async def start(self) -> None:
        """Open the connection, migrate the schema and start taking operations."""
        self._loop = loop = asyncio.get_running_loop()
        self._stopped = loop.create_future()
        # A daemon thread: a server that dies without close() must still exit (SQLite's
        # journal makes an interrupted transaction harmless); close() stops it cleanly.
        self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
        self._thread.start()
        self._conn = await self._call(self._open)

    async def _call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the writer thread, between batches."""
        assert self._loop is not None
        future: asyncio.Future[T] = self._loop.create_future()
        self._inbox.put(Call(function, future))
        return await future

    def _open(self) -> sqlite3.Connection:
        conn = open_writer(self._path, self._synchronous)
        before = schema.migrate(conn)
        if before != schema.SCHEMA_VERSION:
            logger.info("database migrated from schema %s to %s", before, schema.SCHEMA_VERSION)
        self._index.load(conn)
        return conn

    async def caught_up(self, wait_seconds: float = indexer.SEARCH_WAIT_SECONDS) -> bool:
        """Wait until the full-text index covers every message committed before this call
        (at most ``wait_seconds``); True when it does. One comparison when it is current;
        otherwise the writer indexes before it takes more writes."""
        if self._closing or self._thread is None:
            return self._index.indexed >= self._index.newest
        return await self._index.wait(self._kick, wait_seconds)

    def _kick(self) -> None:
        """Ask for an index step (on the loop); one outstanding kick is enough, as every batch
        checks too."""
        if not self._kicked:
            self._kicked = True
            self._inbox.put(KICK)

    async def submit(self, operation: Operation[T], record: Recorder[T] | None = None) -> T:
        """Queue ``operation`` and wait until its batch has committed; returns its result.

        The operation runs on the writer thread inside a transaction and must not block on
        anything else. If the awaiting caller is cancelled, the write still happens. After the
        commit, ``record`` (on the loop) adds what the operation changed to the batch's
        :class:`~agentmail_server.domain.events.Commit`, which the feed then publishes once.

        Raises:
            ResourceExhausted: the queue is full.
            Unavailable: the writer is shutting down.
            AgentmailError: whatever the operation raised (its changes are rolled back).
        """
        if self._closing:
            raise Unavailable("SHUTTING_DOWN", "the server is shutting down", retry_after_seconds=1)
        if self._submitted - self._taken >= self._queue_size:
            self._rejected += 1
            raise ResourceExhausted(
                "WRITER_OVERLOADED",
                f"the write queue is full ({self._queue_size} waiting); retry shortly",
                metadata={"queueCapacity": str(self._queue_size)},
                retry_after_seconds=0.05,
            )
        assert self._loop is not None
        future: asyncio.Future[T] = self._loop.create_future()
        self._submitted += 1
        self._inbox.put(Job(operation, future, record))
        return await future

    # On the writer thread.

    def _serve(self) -> None:
        """The writer thread: batches, index steps and calls, in arrival order, until stopped.

        A call or kick found while draining a batch waits until that batch is committed;
        the stop sentinel ends the drain (everything before it is in the batch)."""
        inbox = self._inbox
        deferred: list[Item] = []
        while True:
            item = deferred.pop(0) if deferred else inbox.get()
            if isinstance(item, Job):
                batch: list[Job[Any]] = [item]
                while len(batch) < self._max_batch:
                    try:
                        queued = inbox.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(queued, Job):
                        batch.append(queued)
                    elif not isinstance(queued, Kick):  # the check after this batch covers it
                        deferred.append(queued)
                        if isinstance(queued, Stop):
                            break
                    else:
                        self._post(self._kick_done)
                self._taken += len(batch)
                outcomes, failure = self._apply(batch, self._index.waiting)
                self._post(self._delivered, batch, outcomes, failure)
            elif isinstance(item, Kick):
                self._catch_up()
                self._post(self._kick_done)
            elif isinstance(item, Call):
                try:
                    result = item.function()
                except BaseException as exc:  # handed to the awaiting caller
                    self._post(settle, item.future, False, exc)
                else:
                    self._post(settle, item.future, True, result)
            else:
                self._finish()
                return

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        assert loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(callback, *args)

    def _finish(self) -> None:
        """On stop: complete the index (a clean stop leaves none to do), close the
        connection, tell close()."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._index.catch_up(conn, everything=True)
            conn.close()
        assert self._stopped is not None
        self._post(settle, self._stopped, True, None)

    # Back on the loop.

    def _delivered(
        self,
        batch: list[Job[Any]],
        outcomes: list[tuple[bool, object]],
        failure: Unavailable | None,
    ) -> None:
        """A batch's outcomes reach its callers and its changes the feed."""
        self._index.release()
        self._health.report(failure)
        commit = hand_back(batch, outcomes)
        if commit is not None:
            self._feed.publish(commit)
        if not self._closing:
            self._after_batch()

    def _kick_done(self) -> None:
        self._kicked = False
        self._index.release()
        idle = self._submitted == self._taken and not self._closing
        if idle and self._index.indexed < self._index.newest:
            self._kick()  # still idle: the next step (writes queued meanwhile go first)

    def _after_batch(self) -> None:
        """Index what is left once the writer has been idle for a moment."""
        if self._index.indexed >= self._index.newest:
            return
        loop = self._loop
        assert loop is not None
        self._last_batch_end = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(self._idle_seconds, self._on_idle)

    def _on_idle(self) -> None:
        self._idle_timer = None
        if self._closing or self._index.indexed >= self._index.newest:
            return
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_batch_end
        if quiet < self._idle_seconds:  # a batch ended since: wait for the rest of the lull
            self._idle_timer = loop.call_later(self._idle_seconds - quiet, self._on_idle)
        else:
            self._kick()

    def _catch_up(self) -> None:
        """On the writer thread: index until current when a search waits, else one step."""
        conn = self._conn
        assert conn is not None
        self._index.catch_up(conn, everything=self._index.waiting)

    def _apply(
        self, batch: list[Job[Any]], search_waits: bool
    ) -> tuple[list[tuple[bool, object]], Unavailable | None]:
        """Run one batch in one transaction on the writer thread; the outcomes, and the
        failure when the batch as a whole could not commit.

        Then, in a transaction of its own and before the batch's callers hear back, index
        when enough messages wait or a search waits (see :mod:`.indexer`): what a call's
        commit set off is done by the time it returns, and no extra hand-off is needed."""
        conn = self._conn
        assert conn is not None
        started = time.perf_counter()
        outcomes: list[tuple[bool, object]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT op")
                try:
                    outcomes.append((True, job.operation(conn)))
                    conn.execute("RELEASE op")
                except Exception as exc:
                    if _storage_error(exc):
                        raise  # the database failed, not this operation: the batch fails
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    if not isinstance(exc, AgentmailError):
                        logger.exception("write operation failed")
                    outcomes.append((False, exc))
            conn.execute("COMMIT")
        except Exception as exc:
            # Disk full, read-only, I/O error or a bug: nothing in this batch committed; say so
            # to all.
            logger.warning("group commit of %d operations failed: %s", len(batch), exc)
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # already rolled back by SQLite
                    conn.execute("ROLLBACK")
            failure = failures.classify(exc, self._path)
            return [(False, failure)] * len(batch), failure
        self._index.committed(conn)
        self._batches += 1
        self._operations += len(batch)
        self._failed += sum(1 for ok, _ in outcomes if not ok)
        self._last_batch = len(batch)
        self._last_commit = elapsed = time.perf_counter() - started
        self._batch_sizes.observe(len(batch))
        self._commit_seconds.observe(elapsed)
        if search_waits or self._index.due():
            self._index.catch_up(conn, everything=search_waits)
        return outcomes, None

    def stats(self) -> WriterStats:
        """A snapshot of queue depth and commit counters."""
        return WriterStats(
            queue_depth=self._submitted - self._taken,
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
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        await self._health.close()
        if self._thread is not None:
            # A sentinel behind the queued jobs: they all commit, the index is completed and
            # the connection closed before the thread ends.
            assert self._stopped is not None
            self._inbox.put(STOP)
            await self._stopped
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        self._index.release(closing=True)


def _storage_error(exc: Exception) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.Error) and isinstance(code, int) and code & 0xFF in _STORAGE_CODES
    )
