"""What the archive reads from the database: committed records after a position.

The projector's backlog is the database itself: each batch is read after the last archived
message id and agent revision, so nothing is queued in memory however far behind the archive
is. A batch is bounded by a count and by body bytes. Reads use a read-only connection of their
own in the archive worker (never the request path's read pool) and run in one read
transaction, so a batch and its lag figures come from one snapshot.

:class:`ArchiveSource` reads the SQLite file; the PostgreSQL source (``_pg_source``) runs the
same statements through its own connection and transaction, and only says how.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from agentmail_server.archive._commits import Position
from agentmail_server.archive._layout import MessageRecord, ReservationRecord
from agentmail_server.domain.models import Agent, Message, Project
from agentmail_server.storage.sqlite.connection import READER_PRAGMAS, reader_uri
from agentmail_server.storage.sqlite.rows import (
    AGENT_COLUMN_COUNT,
    AGENT_COLUMNS,
    AGENT_FROM,
    MESSAGE_COLUMNS,
    RESERVATION_COLUMNS,
    RESERVATION_FROM,
    agent_from_row,
    message_from_row,
    reservation_from_row,
)

# Bodies read into one batch at most (a batch always takes at least one message).
MAX_BATCH_BODY_BYTES = 32 * 1024 * 1024
_MESSAGES = (
    f"SELECT {MESSAGE_COLUMNS}, m.body, p.slug FROM messages m"
    " JOIN projects p ON p.id = m.project_id WHERE m.id > ? ORDER BY m.id LIMIT ?"
)
_AGENTS = (
    f"SELECT {AGENT_COLUMNS}, a.revision, p.human_key, p.created_at FROM {AGENT_FROM}"
    " WHERE a.revision > ? ORDER BY a.revision LIMIT ?"
)
_RESERVATIONS = (
    f"SELECT {RESERVATION_COLUMNS}, r.revision, p.slug FROM {RESERVATION_FROM}"
    " JOIN projects p ON p.id = r.project_id WHERE r.revision > ? ORDER BY r.revision LIMIT ?"
)


@dataclasses.dataclass(frozen=True)
class Batch:
    """Records committed after a position, read in one snapshot.

    Attributes:
        messages: messages in id order.
        agents: agents registered or changed, in revision order.
        projects: the projects of those agents (each once).
        reservations: reservations granted or changed, in revision order (latest state).
        position: the position after this batch.
        full: whether a limit cut the batch short (more is waiting).
        head_message_id: the newest committed message id in the snapshot.
        next_created_at: creation time of the first message after the batch, if any.
    """

    messages: tuple[MessageRecord, ...]
    agents: tuple[Agent, ...]
    projects: tuple[Project, ...]
    position: Position
    full: bool
    head_message_id: int
    next_created_at: int | None
    reservations: tuple[ReservationRecord, ...] = ()


class Cursor(Protocol):
    """What the source needs of a DB-API cursor (sqlite3's and psycopg's both qualify)."""

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def close(self) -> None: ...
    def __iter__(self) -> Iterator[Any]: ...


class LostLeadership(RuntimeError):
    """This worker no longer holds the archive lock (its session ended or was cut)."""


class SourceUnavailable(RuntimeError):
    """The database cannot be reached for now (a server database, not a file): try again."""


class ArchiveSource:
    """A read-only connection to the database; use it from one thread.

    This class reads the SQLite file. Subclasses for other databases override the four
    hooks :meth:`_execute`, :meth:`_begin`, :meth:`_end` and :meth:`_message`, and the
    leadership methods where several processes may follow one database (``_pg_source``).
    """

    # How often the worker looks for new records when nothing woke it: every commit of this
    # server wakes it, and one SQLite file has one server, so this is only a safety net.
    poll_seconds = 30.0

    def __init__(self, database_path: pathlib.Path) -> None:
        self._conn = sqlite3.connect(reader_uri(database_path), uri=True, isolation_level=None)
        for pragma in READER_PRAGMAS:
            self._conn.execute(pragma)

    def _execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        """Run one statement (written with ``?`` parameters)."""
        return self._conn.execute(sql, params)

    def _stream(self, sql: str, params: Sequence[object]) -> Cursor:
        """Run a statement whose rows are read one by one and maybe not all: rows never read
        are never fetched (SQLite steps the statement as it is read)."""
        return self._execute(sql, params)

    def _begin(self) -> None:
        """Start the read transaction of one batch (one snapshot)."""
        self._conn.execute("BEGIN")

    def _end(self) -> None:
        """End the read transaction."""
        self._conn.execute("COMMIT")

    def _message(self, row: Any) -> Message:
        """The message of a row of ``_MESSAGES``."""
        return message_from_row(row)

    def try_lead(self) -> bool:
        """Become the archive's one writer if no other process is; returns whether this one is.

        One SQLite file has one server (the data folder lock elects it): always True here.
        """
        return True

    def check_leader(self) -> None:
        """Check, just before a commit moves the branch, that this process still leads.

        Raises:
            LostLeadership: it does not.
        """

    @property
    def broken(self) -> bool:
        """Whether the connection is gone (and with it any leadership)."""
        return False

    def read(self, after: Position, max_records: int, max_bytes: int) -> Batch:
        """Up to ``max_records`` messages (and agents) committed after ``after``."""
        self._begin()
        try:
            (head,) = self._execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()
            messages: list[MessageRecord] = []
            size = 0
            cursor = self._stream(_MESSAGES, (after.message_id, max_records))
            try:
                for row in cursor:
                    messages.append(MessageRecord(self._message(row), row[15]))
                    size += row[13]
                    if size >= max_bytes:
                        break
            finally:
                cursor.close()  # rows past the byte budget are never fetched
            agents: list[Agent] = []
            projects: dict[int, Project] = {}
            revision = after.agent_revision
            for row in self._execute(_AGENTS, (after.agent_revision, max_records)):
                agents.append(agent_from_row(row))
                revision = row[AGENT_COLUMN_COUNT]
                human_key, created_at = row[AGENT_COLUMN_COUNT + 1 : AGENT_COLUMN_COUNT + 3]
                projects[row[1]] = Project(row[1], row[2], human_key, created_at)
            reservations: list[ReservationRecord] = []
            reservation_revision = after.reservation_revision
            for row in self._execute(_RESERVATIONS, (after.reservation_revision, max_records)):
                reservations.append(ReservationRecord(reservation_from_row(row), row[14]))
                reservation_revision = row[13]
            last_id = messages[-1].message.id if messages else after.message_id
            following = self._execute(
                "SELECT created_at FROM messages WHERE id > ? ORDER BY id LIMIT 1", (last_id,)
            ).fetchone()
        finally:
            self._end()
        return Batch(
            messages=tuple(messages),
            agents=tuple(agents),
            projects=tuple(projects.values()),
            reservations=tuple(reservations),
            position=Position(last_id, revision, reservation_revision),
            full=following is not None
            or len(agents) >= max_records
            or len(reservations) >= max_records,
            head_message_id=head,
            next_created_at=following[0] if following is not None else None,
        )

    def heads(self) -> Position:
        """The newest committed message id, agent revision and reservation revision."""
        row = self._execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM messages),"
            " (SELECT coalesce(max(revision), 0) FROM agents),"
            " (SELECT coalesce(max(revision), 0) FROM reservations)"
        ).fetchone()
        return Position(row[0], row[1], row[2])

    def all_messages(self, page: int = 1000) -> Iterator[MessageRecord]:
        """Every message in id order, a page per read (for verification)."""
        after = 0
        while True:
            cursor = self._stream(_MESSAGES, (after, page))
            count = 0
            try:
                for row in cursor:
                    count, after = count + 1, row[0]
                    yield MessageRecord(self._message(row), row[15])
            finally:
                cursor.close()
            if count < page:
                return

    def all_agents(self, page: int = 1000) -> Iterator[Agent]:
        """Every agent in revision order (for verification)."""
        after = 0
        while True:
            rows = self._execute(_AGENTS, (after, page)).fetchall()
            yield from (agent_from_row(row) for row in rows)
            if len(rows) < page:
                return
            after = rows[-1][AGENT_COLUMN_COUNT]

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
