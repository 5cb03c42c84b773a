"""The archive's source on PostgreSQL, and the election of the one process that writes git.

Reading. The same statements as the SQLite source (``_source``), on a synchronous psycopg
connection of the archive worker's own (never the server's pool), each batch in one
``REPEATABLE READ READ ONLY`` transaction, so a batch and its lag figures come from one
snapshot. Reading "message id > the archived one" skips nothing: on PostgreSQL message ids are
positions handed out under the ``positions`` row lock, held until the writing transaction
commits (see ``storage.postgres.schema``), so ids become visible in commit order across every
process and no transaction can commit a lower id after a higher one is visible. Agent and
reservation revisions come from locked counter rows the same way.

Leader election. Every server process (and with ``--workers N`` each worker) runs an archive
worker, but exactly one writes the repository at a time: the one whose connection holds the
session-level advisory lock :data:`ARCHIVE_LOCK` of this database (``pg_try_advisory_lock``,
never waited on). The others try again every second (``_worker.ELECTION_SECONDS``) and stay
idle meanwhile.
The lock lives on the very connection that reads the batches, and PostgreSQL releases it when
that session ends, so:

- a leader that dies (SIGKILL, crash) loses the lock with its connection; another
  worker takes it within about a second, opens the repository, reads the position from the
  branch head's trailers and catches up from there: no gap (reads start after the recorded
  position) and no duplicate (what the dead leader committed is in the head it reads; what it
  had not committed is not);
- a leader that is alive but lost its connection cannot read another batch (the read fails with
  the connection), and :meth:`PostgresSource.check_leader` runs after a batch's objects are on
  disk and just before the branch moves: if the session is gone or no longer holds the lock,
  the commit is abandoned and the worker goes back to electing. The remaining window (between
  that check and the branch update, microseconds of work) could at worst let a stale leader
  move the branch to a commit the new leader also writes on top of or beside; both commits
  carry the same records at the same paths, so the tree still holds each message once, and the
  new leader's next commit (whose parent is its own head) settles the branch.

A leader whose host vanishes without closing its connection keeps the lock until PostgreSQL
notices the dead session (its ``tcp_keepalives_*`` settings; idle-session timeouts do not apply
to an idle session outside a transaction): set them if hosts can be lost that way.

The lock key is fixed per database (advisory locks are per database), so every process
following one database contends for the same lock whatever archive path it was given: with
servers on several hosts, they must all be given the same (shared) archive path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from agentmail_server.archive._source import (
    ArchiveSource,
    Cursor,
    LostLeadership,
    SourceUnavailable,
)
from agentmail_server.domain.models import Message
from agentmail_server.storage.postgres.connection import describe
from agentmail_server.storage.postgres.rows import message_from_row

# pg_try_advisory_lock(int, int) key of the archive writer: a space of its own ("AMAR"),
# apart from the migration lock (one bigint key) and the reservation project locks.
ARCHIVE_LOCK = (0x414D4152, 1)
_CONNECT_TIMEOUT_SECONDS = 10
# Rows a streamed read fetches at a time: bodies reach 1 MiB, so a batch's worth (2,000) in
# one fetch could take gigabytes; this many keeps one fetch within the batch's byte budget.
_STREAM_ROWS = 32
_HOLDS_LOCK = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    " AND granted AND classid = %s AND objid = %s AND objsubid = 2"
)


class PostgresSource(ArchiveSource):
    """A connection to PostgreSQL for the archive; use it from one thread.

    ``label`` is the session's ``application_name``: the worker puts its server's process id
    in it, so that ``pg_locks`` joined with ``pg_stat_activity`` shows which server leads.

    Raises:
        SourceUnavailable: the server cannot be reached (the message names host, port and
            database, never the URL's user or password).
    """

    # Mail committed through another server wakes the leader through the cross-process commit
    # feed, but agent and reservation changes made there do not: the leader looks for them
    # this often (three index seeks on a quiet database).
    poll_seconds = 2.0

    def __init__(self, url: str, label: str = "agentmail-archive") -> None:
        try:
            self._pg: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT_SECONDS,
                application_name=label,
            )
        except psycopg.Error as exc:
            raise SourceUnavailable(
                f"could not connect to PostgreSQL at {describe(url)}: {type(exc).__name__}"
            ) from None

    def _execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        # The shared statements use SQLite's "?" placeholders and contain no "%".
        return self._pg.execute(sql.replace("?", "%s").encode(), params)

    def _stream(self, sql: str, params: Sequence[object]) -> Cursor:
        # A server-side cursor, so that rows past the byte budget stay on the server. WITH HOLD
        # lets it outlive a transaction (verification reads outside one).
        cursor = self._pg.cursor(name="agentmail_archive_stream", withhold=True)
        cursor.itersize = _STREAM_ROWS
        return cursor.execute(sql.replace("?", "%s").encode(), params)

    def _begin(self) -> None:
        self._pg.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _end(self) -> None:
        if not self._pg.closed:
            self._pg.execute(b"COMMIT")

    def _message(self, row: Any) -> Message:
        return message_from_row(row)  # bodies are stored NUL-escaped

    def try_lead(self) -> bool:
        """Take the archive lock if no other session holds it; returns whether this one does.

        Raises:
            SourceUnavailable: the connection failed.
        """
        try:
            row = self._pg.execute(b"SELECT pg_try_advisory_lock(%s, %s)", ARCHIVE_LOCK)
            found = row.fetchone()
        except psycopg.Error as exc:
            raise SourceUnavailable(f"the archive lock's connection failed: {exc}") from None
        return bool(found and found[0])

    def check_leader(self) -> None:
        """Check that this session is alive and still holds the archive lock.

        Raises:
            LostLeadership: it does not (or the connection is gone).
        """
        try:
            row = self._pg.execute(_HOLDS_LOCK.encode(), ARCHIVE_LOCK).fetchone()
        except psycopg.Error as exc:
            raise LostLeadership(f"the archive lock's connection failed: {exc}") from None
        if not row or row[0] != 1:
            raise LostLeadership("this process no longer holds the archive lock")

    @property
    def broken(self) -> bool:
        """Whether the connection is closed (the lock, if held, is gone with it)."""
        return self._pg.closed or self._pg.broken

    def close(self) -> None:
        """Close the connection (and so release the lock)."""
        self._pg.close()
