"""The archive worker: a child process of the server that writes the git archive.

Why a process rather than a thread of the server: archiving is Python code and pygit2 calls
that hold the GIL, and the server's event loop is bound by the GIL too. On the reference
machine an archive thread cost the server about a fifth of its send throughput even when it
yielded the GIL every few records; in its own process it only uses otherwise idle CPU (it runs
at a lower scheduling priority), and a crash in libgit2 cannot take the server down.

Protocol, over the pipes the server opens (see ``_projector``):

- stdin, one byte per event: ``w`` — the database committed something (wake up); ``s`` —
  archive what is committed, then exit. End of input without ``s`` means the server is gone:
  exit at once (the next server resumes from the branch head).
- stdout, one JSON object per line: ``{"event": "standby"}`` while another process writes the
  archive (PostgreSQL: see ``_pg_source``), ``{"event": "ready", ...}`` once this worker leads
  and the repository is open, ``{"event": "step", ...}`` after each archive step,
  ``{"event": "failure", ...}`` when a step failed (it is retried with backoff).

Leadership: on a database several servers share (PostgreSQL), the worker first takes the
archive lock on the connection it reads with; until it has it, it reports ``standby`` and only
tries again now and then. If it loses the lock (its connection broke), it abandons the commit
under way and elects again, reopening the repository from the branch head when it leads again.

Pacing: when idle, a new message is archived at once; after a commit the next one waits until
``interval_seconds`` have passed since the previous one started, so under steady traffic
everything committed meanwhile shares one commit (up to ``max_batch``). A full batch means the
archive is behind: the next one starts at once.

When busy, commits grow: the pause after a step is at least ``_BUSY_FACTOR`` times as long as
the step took, up to ``_MAX_STRETCH`` times the interval (never over ``_MAX_PAUSE_SECONDS``,
nor under the interval: an interval of 0 still archives at once). Why: much of a commit's cost
does not depend on how many messages it carries (a month's folder of messages, and each busy
inbox's, is hashed and written whole by every commit that adds to it, so that cost grows with
the month), and spreading it over more messages is what keeps the archive's CPU per message low
while the server is loaded. An idle or lightly loaded archive steps as before (short steps,
short pauses); a slow step makes the archive lag by up to the longer pause.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import logging
import math
import os
import pathlib
import select
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from agentmail_server.archive._batches import write_batch
from agentmail_server.archive._commits import Position, parse_position
from agentmail_server.archive._database import ArchiveDatabase
from agentmail_server.archive._settings import ArchiveSettings
from agentmail_server.archive._source import (
    MAX_BATCH_BODY_BYTES,
    ArchiveSource,
    LostLeadership,
    SourceUnavailable,
)
from agentmail_server.archive.git import GitStore
from agentmail_server.domain.models import now_micros

logger = logging.getLogger(__name__)

WAKE = b"w"
STOP = b"s"
_MAX_BACKOFF_SECONDS = 60.0
# The pause after a step is at least this many times the step's duration (see Pacing) ...
_BUSY_FACTOR = 8.0
# ... but never longer than this many intervals, nor this many seconds (nor shorter than
# the configured interval).
_MAX_STRETCH = 5.0
_MAX_PAUSE_SECONDS = 5.0
# Lower scheduling priority: the archive takes CPU the server leaves idle.
_NICENESS = 10
_PR_SET_PDEATHSIG = 1
# How often a worker that does not lead tries to: a dead leader is replaced within about this.
ELECTION_SECONDS = 1.0


def worker_command(
    database: ArchiveDatabase, settings: ArchiveSettings, log_level: int
) -> list[str]:
    """The command line that starts a worker for ``settings`` (run it with
    ``database.environment()`` added to its environment: the URL is not on the line)."""
    config = {**dataclasses.asdict(settings), "repository": str(settings.repository)}
    wire = {"database": database.wire(), "settings": config, "log_level": log_level}
    # Run through -c: with -m, runpy warns that the package has already imported the module.
    entry = (
        "import sys; from agentmail_server.archive._worker import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    return [sys.executable, "-c", entry, json.dumps(wire), str(os.getpid())]


def open_store(settings: ArchiveSettings) -> tuple[GitStore, Position]:
    """Open (or create) the archive's branch, and read the position its head records.

    Raises:
        RuntimeError: the repository is unusable, or its branch was not written by the archive.
        ValueError: the branch name or identity is not valid for git.
    """
    store = GitStore(
        settings.repository, settings.branch, settings.author_name, settings.author_email
    )
    if store.head_message is None:  # a new branch: nothing archived yet
        return store, Position()
    position = parse_position(store.head_message)
    if position is None:
        store.close()
        raise RuntimeError(
            f"the head of {store.ref} in {store.path} was not written by agentmail "
            "(no position trailers); choose another branch or run `agentmail-archive rebuild`"
        )
    return store, position


def open_archive(source: ArchiveSource, settings: ArchiveSettings) -> tuple[GitStore, Position]:
    """Open (or create) the repository, and check that it belongs to ``source``'s database.

    Call it only as the archive's writer (on PostgreSQL: holding the archive lock), since
    opening clears what a crashed writer left behind.

    Returns:
        The store and the position its branch head records.

    Raises:
        RuntimeError: the repository is unusable, or is ahead of the database.
        ValueError: the branch name or identity is not valid for git.
    """
    store, recorded = open_store(settings)
    try:
        heads = source.heads()
    except BaseException:
        store.close()
        raise
    if (
        recorded.message_id > heads.message_id
        or recorded.agent_revision > heads.agent_revision
        or recorded.reservation_revision > heads.reservation_revision
    ):
        store.close()
        raise RuntimeError(
            f"the archive in {settings.repository} is ahead of the database (archived "
            f"message {recorded.message_id}, database {heads.message_id}): it belongs to "
            "another database or the database was restored; run `agentmail-archive rebuild`"
        )
    return store, recorded


class _Worker:
    def __init__(self, database: ArchiveDatabase, settings: ArchiveSettings, server: int) -> None:
        self._database = database
        self._label = f"agentmail-archive {server}"  # which server's worker this session is
        self._settings = settings
        self._store: GitStore | None = None
        self._source: ArchiveSource | None = None
        self._position = Position()
        self._woken = False
        self._stop = False
        self._gone = False

    def open(self) -> bool:
        """Lead (waiting for the archive lock where there is one), then open the repository.

        Returns:
            Whether it leads; False when told to stop (or orphaned) while waiting.
        """
        if not self._elect():
            return False
        assert self._source is not None
        self._store, self._position = open_archive(self._source, self._settings)
        _emit(
            event="ready",
            message_id=self._position.message_id,
            agent_revision=self._position.agent_revision,
            reservation_revision=self._position.reservation_revision,
            packs=self._store.pack_usage(),
        )
        return True

    def _elect(self) -> bool:
        """Connect, and wait until this worker may write the archive."""
        announced = False
        while True:
            try:
                if self._source is None:
                    self._source = self._database.open(self._label)
                if self._source.try_lead():
                    return True
            except SourceUnavailable as exc:  # a database server away for now: try again
                logger.warning("archive election: %s; retrying", exc)
                self._drop_source()
            if not announced:
                _emit(event="standby")
                announced = True
            retry_at = time.monotonic() + ELECTION_SECONDS
            while not (self._stop or self._gone) and time.monotonic() < retry_at:
                self._read_input(retry_at - time.monotonic())
            if self._stop or self._gone:
                return False

    def _drop_source(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            with contextlib.suppress(Exception):
                source.close()

    def _lost_lead(self, exc: BaseException) -> bool:
        """Whether a step failed because this worker no longer holds the archive lock."""
        source = self._source
        if isinstance(exc, LostLeadership) or source is None or source.broken:
            return True
        try:
            source.check_leader()
        except LostLeadership:
            return True
        return False

    def _read_input(self, timeout: float) -> None:
        """Take what the server sent, waiting up to ``timeout`` seconds for something."""
        ready, _, _ = select.select([sys.stdin.buffer], [], [], max(0.0, timeout))
        if not ready:
            return
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            self._gone = not self._stop
            self._stop = True
        self._woken = self._woken or WAKE in data
        self._stop = self._stop or STOP in data

    def run(self) -> int:
        interval = self._settings.interval_seconds
        more, drained_after_stop, backoff = True, False, 0.0
        started, pause = -math.inf, interval
        while True:
            self._read_input(0)
            if self._gone or (self._stop and drained_after_stop and not more):
                return 0
            if not self._stop and not more:
                # Every commit wakes the worker, but it polls now and then anyway, as often as
                # its source says (a database other servers write to: more often).
                deadline = time.monotonic() + (self._source or ArchiveSource).poll_seconds
                while not (self._woken or self._stop) and time.monotonic() < deadline:
                    self._read_input(deadline - time.monotonic())
                while not self._stop and time.monotonic() < started + pause:
                    self._read_input(started + pause - time.monotonic())
                if self._gone:
                    return 0
            self._woken = False
            stopping = self._stop
            started = time.monotonic()
            try:
                more = self._step()
            except Exception as exc:
                if self._lost_lead(exc):
                    logger.warning("the archive lock is lost (%s); electing again", exc)
                    self._drop_source()
                    if not self.open():
                        return 0
                    more = True
                    continue
                logger.exception("archive step failed; retrying")
                _emit(event="failure", message=str(exc))
                more = False
                if stopping:
                    return 1
                backoff = min(max(2 * backoff, 1.0), _MAX_BACKOFF_SECONDS)
                stop_at = time.monotonic() + backoff
                while not self._stop and time.monotonic() < stop_at:
                    self._read_input(stop_at - time.monotonic())
                self._woken = True
                continue
            backoff = 0.0
            drained_after_stop = stopping
            took = time.monotonic() - started
            longest = min(interval * _MAX_STRETCH, _MAX_PAUSE_SECONDS)
            pause = max(interval, min(took * _BUSY_FACTOR, longest))

    def _step(self) -> bool:
        """Archive one batch; returns whether more is waiting."""
        try:
            return self._archive_batch()
        except BaseException:
            # The next attempt starts from a fresh handle and the branch head: a pack may
            # have vanished under the old handle, or the branch moved before the failure.
            if self._store is not None:
                store, self._store = self._store, None
                with contextlib.suppress(Exception):
                    store.close()
            raise

    def _archive_batch(self) -> bool:
        store = self._store
        assert self._source is not None
        if store is None:
            # Opening clears what a crashed writer left: only while this worker still leads.
            self._source.check_leader()
            store, self._position = open_store(self._settings)
            self._store = store
        started = time.perf_counter()
        read_at = now_micros()
        batch = self._source.read(self._position, self._settings.max_batch, MAX_BATCH_BODY_BYTES)
        changed = batch.messages or batch.agents or batch.reservations
        commit = write_batch(store, batch, self._source.check_leader) if changed else None
        elapsed = time.perf_counter() - started
        if commit is not None:
            _consolidate(store)
        self._position = batch.position
        _emit(
            event="step",
            message_id=batch.position.message_id,
            agent_revision=batch.position.agent_revision,
            reservation_revision=batch.position.reservation_revision,
            head_message_id=batch.head_message_id,
            next_created_at=batch.next_created_at,
            read_at=read_at,
            committed=commit is not None,
            messages=len(batch.messages),
            agents=len(batch.agents),
            reservations=len(batch.reservations),
            seconds=elapsed,
            packs=store.pack_usage(),
        )
        if commit is not None:
            logger.debug(
                "archived %d messages, %d agents in %.1f ms",
                len(batch.messages),
                len(batch.agents),
                elapsed * 1000,
            )
        return batch.full

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        if self._store is not None:
            self._store.close()


def _consolidate(store: GitStore) -> None:
    # Merging packs is housekeeping: a failure must not hold the archive back.
    try:
        started = time.perf_counter()
        merged = store.consolidate()
    except Exception:
        logger.exception("merging archive packs failed; will retry after the next commit")
        return
    if merged:
        logger.debug(
            "merged %d archive packs in %.1f ms", merged, (time.perf_counter() - started) * 1e3
        )


def _emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the server dies (Linux), so that an orphaned
    worker never writes beside the next server's."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the server died before the request took effect
        sys.exit(0)


def main(argv: Sequence[str]) -> int:
    """Run a worker: ``argv`` is the JSON settings and the server's process id."""
    wire = json.loads(argv[0])
    server = int(argv[1])
    _die_with_parent(server)
    database = ArchiveDatabase.from_wire(wire["database"], os.environ)
    with contextlib.suppress(OSError):
        os.nice(_NICENESS)
    logging.basicConfig(
        level=wire["log_level"],
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    config = dict(wire["settings"], repository=pathlib.Path(wire["settings"]["repository"]))
    worker = _Worker(database, ArchiveSettings(**config), server)
    try:
        if not worker.open():
            return 0
    except Exception as exc:
        logger.error("cannot open the archive: %s", exc)
        worker.close()
        return 1
    try:
        return worker.run()
    finally:
        worker.close()
