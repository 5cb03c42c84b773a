"""The archive projector: keeps the git archive following the database, off the hot path.

A send returns once the database has committed it. The writer's commit listener
(:meth:`ArchiveProjector.notify`) only notes the newest message id (for the lag figures) and
wakes the archive worker, a child process (see ``_worker``) that reads what was committed
after its position from the database and writes it to git. Nothing is queued in memory: the
backlog is whatever the database holds beyond the archive's position.

The projector supervises the worker: it checks the repository at start (so that a bad
configuration stops the server start), restarts the worker with backoff if it dies, and at
stop asks it to archive everything committed (within the grace period) before it exits.

On a database several servers share (PostgreSQL), only one worker leads (see ``_pg_source``);
the others report ``standby``. The start-up check then opens the repository only if it can
take the archive lock for the time of the check (opening clears what a crashed writer left, so
it must never run beside the leader); otherwise another process leads and only the branch name
and identity are checked. A projector whose worker stands by exports ``leader`` 0 and no lag:
the leader's process reports the archive's lag, and a follower's archived position is not news.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any

from agentmail_server.archive._commits import Position
from agentmail_server.archive._database import ArchiveDatabase
from agentmail_server.archive._settings import (
    COMMIT_SECONDS_BOUNDS,
    ArchiveSettings,
    ArchiveStats,
)
from agentmail_server.archive._worker import STOP, WAKE, open_archive, worker_command
from agentmail_server.archive.git import GitStore
from agentmail_server.domain.events import Commit
from agentmail_server.domain.models import now_micros
from agentmail_server.histogram import BucketCounts

logger = logging.getLogger(__name__)

_MAX_RESTART_SECONDS = 60.0
# A worker that ran this long before dying is restarted without backoff.
_HEALTHY_SECONDS = 60.0


class ArchiveProjector:
    """Runs and watches the archive worker. Start, then register :meth:`notify` as a writer
    commit listener; stop after the writer has closed so that its last writes are archived."""

    def __init__(self, database: ArchiveDatabase, settings: ArchiveSettings) -> None:
        self._database = database
        self._settings = settings
        self._process: asyncio.subprocess.Process | None = None
        self._ready = False
        self._leader = False
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._progress = asyncio.Event()
        self._position = (0, 0)  # message id, agent revision
        self._reservation_revision = 0
        self._committed_id = 0
        self._pending_since: int | None = None
        self._commits = 0
        self._messages = 0
        self._agents = 0
        self._failures = 0
        self._restarts = 0
        self._last_batch = 0
        self._last_seconds = 0.0
        self._packs = (0, 0)  # pack files, and their bytes
        self._step_seconds = BucketCounts(COMMIT_SECONDS_BOUNDS)
        # One wake-up byte per worker step, not one per commit: once a byte is sent, later
        # commits only mark the projector dirty, and the step's report sends the next byte if
        # anything was committed meanwhile. At 64 sends in flight the writer commits a few
        # hundred times a second; each byte cost the server a pipe write and the worker a
        # wake-up, while the worker steps about once a second.
        self._wake_sent = False
        self._dirty = False

    async def start(self) -> None:
        """Check (or create) the repository, then start the worker.

        Raises:
            RuntimeError: the repository is unusable, or belongs to another database.
            ValueError: the branch name or identity is not valid for git.
        """
        position, heads, self._packs = await asyncio.to_thread(
            _check, self._database, self._settings
        )
        self._committed_id = heads.message_id
        if position is None:
            logger.info(
                "archive %s (%s): another process writes it; this one stands by",
                self._settings.repository,
                self._settings.branch,
            )
            position = Position()
        else:
            logger.info(
                "archive %s (%s) at message %d, agent revision %d",
                self._settings.repository,
                self._settings.branch,
                position.message_id,
                position.agent_revision,
            )
        self._position = (position.message_id, position.agent_revision)
        self._reservation_revision = position.reservation_revision
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name="archive-supervisor")

    async def _spawn(self) -> None:
        level = logging.getLogger("agentmail_server").getEffectiveLevel()
        self._ready = False
        extra = self._database.environment()
        self._process = await asyncio.create_subprocess_exec(
            *worker_command(self._database, self._settings, level),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, **extra} if extra else None,
        )

    async def _supervise(self) -> None:
        """Read the worker's reports; restart it (with backoff) whenever it exits early."""
        delay = 0.0
        while True:
            process = self._process
            assert process is not None and process.stdout is not None
            started = asyncio.get_running_loop().time()
            while line := await process.stdout.readline():
                try:
                    self._report(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    logger.warning("unexpected line from the archive worker: %r", line[:200])
            code = await process.wait()
            if self._stopping.is_set():
                return
            lived = asyncio.get_running_loop().time() - started
            if lived > _HEALTHY_SECONDS:
                delay = 0.0
            else:
                delay = min(max(2 * delay, 1.0), _MAX_RESTART_SECONDS)
            self._restarts += 1
            logger.error("archive worker exited with code %s; restarting in %.0f s", code, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            try:
                await self._spawn()
            except OSError:
                logger.exception("could not start the archive worker")
                return
            if self._stopping.is_set():  # stop() began while this worker was starting
                assert self._process is not None
                self._process.kill()
                await self._process.wait()
                return

    def _report(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "standby":
            self._ready = self._leader = False
        elif kind == "ready":
            self._ready = self._leader = True
            self._position = (event["message_id"], event["agent_revision"])
            self._reservation_revision = event["reservation_revision"]
            self._packs = _pack_usage(event["packs"])
            self._wake_sent = False  # a new worker: whatever the old one was sent is gone
            self._wake()  # catch up with what was committed before it was listening
        elif kind == "failure":
            self._failures += 1
        elif kind == "step":
            self._step_done(event)

    def _step_done(self, step: dict[str, Any]) -> None:
        archived = step["message_id"]
        self._position = (archived, step["agent_revision"])
        self._reservation_revision = step["reservation_revision"]
        self._committed_id = max(self._committed_id, step["head_message_id"])
        if step["next_created_at"] is not None:
            self._pending_since = step["next_created_at"]
        elif self._committed_id > archived:
            self._pending_since = step["read_at"]  # committed after the worker's snapshot
        else:
            self._pending_since = None
        self._packs = _pack_usage(step["packs"])
        if step["committed"]:
            seconds = step["seconds"]
            self._commits += 1
            self._messages += step["messages"]
            self._agents += step["agents"]
            self._last_batch = step["messages"]
            self._last_seconds = seconds
            self._step_seconds.observe(seconds)
        self._progress.set()
        self._progress = asyncio.Event()
        self._wake_sent = False
        if self._dirty:  # committed after the byte that woke this step: maybe not in it
            self._wake()

    def notify(self, commit: Commit) -> None:
        """Commit-feed listener: note the newest message and wake the worker.

        Runs on the loop after every commit; constant work per committed message.
        """
        if not (commit.messages or commit.agents or commit.projects or commit.reservations):
            return  # receipts and notices are not archived
        for sent in commit.messages:
            if self._pending_since is None and sent.message.id > self._position[0]:
                self._pending_since = sent.message.created_at
            self._committed_id = max(self._committed_id, sent.message.id)
        self._wake()

    @property
    def worker_pid(self) -> int | None:
        """The archive worker's process id (None before it starts or after it stopped)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def _wake(self) -> None:
        if self._wake_sent:
            self._dirty = True  # the step under way reports, then it is woken again
            return
        process = self._process
        if not self._ready or process is None or process.stdin is None:
            return
        transport = process.stdin.transport
        # A byte already waiting wakes the worker as well: never queue more behind it.
        if not transport.is_closing() and transport.get_write_buffer_size() == 0:
            with contextlib.suppress(ConnectionError):
                process.stdin.write(WAKE)
                self._wake_sent, self._dirty = True, False

    async def wait_until_archived(self, message_id: int, max_seconds: float) -> None:
        """Wait until message ``message_id`` is in the archive.

        Raises:
            TimeoutError: it was not archived within ``max_seconds``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        while self._position[0] < message_id:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._stopping.is_set():
                raise TimeoutError(f"message {message_id} was not archived in {max_seconds} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)

    @property
    def leader(self) -> bool:
        """Whether this projector's worker writes the archive (False while it stands by)."""
        return self._leader and self.worker_pid is not None

    def stats(self) -> ArchiveStats:
        """A snapshot of position, lag and commit timings."""
        leader = self.leader
        lag = max(0, self._committed_id - self._position[0]) if leader else 0
        since = self._pending_since
        return ArchiveStats(
            archived_message_id=self._position[0],
            committed_message_id=self._committed_id,
            lag_messages=lag,
            lag_seconds=max(0.0, (now_micros() - since) / 1e6) if lag and since else 0.0,
            archived_agent_revision=self._position[1],
            commits=self._commits,
            archived_messages=self._messages,
            archived_agents=self._agents,
            failures=self._failures,
            worker_restarts=self._restarts,
            last_batch_messages=self._last_batch,
            last_commit_seconds=self._last_seconds,
            pack_files=self._packs[0],
            pack_bytes=self._packs[1],
            commit_seconds_counts=self._step_seconds.counts(),
            commit_seconds_sum=self._step_seconds.total,
            archived_reservation_revision=self._reservation_revision,
            leader=leader,
        )

    async def stop(self, max_seconds: float) -> None:
        """Have the worker archive what is committed (for up to ``max_seconds``), then exit.

        Call it after the writer has closed. A worker that is not ready yet, or does not finish
        in time, is killed: the archive is crash-safe, and the next start resumes from it.
        """
        if self._stopping.is_set():
            return
        self._stopping.set()
        process = self._process
        if process is not None and process.returncode is None:
            if self._ready and process.stdin is not None:
                with contextlib.suppress(ConnectionError):
                    process.stdin.write(STOP)
                    process.stdin.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), max_seconds)
            if process.returncode is None:
                process.kill()
                await process.wait()
        if self._supervisor is not None:
            try:
                await self._supervisor
            except Exception:
                logger.exception("the archive supervisor failed")
            self._supervisor = None


def _pack_usage(reported: list[int]) -> tuple[int, int]:
    count, size = reported  # the worker's (count, bytes), a list once through JSON
    return int(count), int(size)


def _check(
    database: ArchiveDatabase, settings: ArchiveSettings
) -> tuple[Position | None, Position, tuple[int, int]]:
    """Open the archive as the worker will (creating it if absent) and report where it is:
    the archived position, the database's newest ids, and the pack files' count and bytes.

    Where another process leads (holds the archive lock), the repository is left alone: only
    the names are checked, and the position is None (the worker's ``ready`` reports it if
    this process ever leads)."""
    source = database.open(f"agentmail-archive-check {os.getpid()}")
    try:
        if not source.try_lead():
            GitStore.check_names(settings.branch, settings.author_name, settings.author_email)
            return None, source.heads(), (0, 0)
        store, position = open_archive(source, settings)
        try:
            return position, source.heads(), store.pack_usage()
        finally:
            store.close()
    finally:
        source.close()  # on PostgreSQL, releases the archive lock for the worker
