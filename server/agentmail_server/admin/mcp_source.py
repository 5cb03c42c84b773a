"""Reading an mcp_agent_mail database: recognising its schema and yielding its rows.

mcp_agent_mail (the MCP mail server agents use before agentmail) keeps one SQLite file with the
tables ``projects``, ``agents``, ``messages``, ``message_recipients`` (kind ``to``/``cc``/``bcc``
with per-recipient ``read_ts`` and ``ack_ts``), ``file_reservations`` and ``agent_links``. Two
implementations write that same shape:

- the Python server (SQLModel ``create_all``, no version table): times are naive UTC text
  such as ``2025-10-23 12:34:56.123456``;
- the Rust port (version rows in ``mcp_agent_mail_migrations``): times are integer
  microseconds since the epoch.

Neither numbers its schema in a way both share, so the shape is the version: every table and
column the import reads must be there (:data:`REQUIRED`). Anything else (an older server that
predates contact links, an agentmail database, any other SQLite file) is refused with one line
saying what is missing, before anything is written. Times are parsed by value (an integer is
microseconds, text is ISO 8601, naive meaning UTC), so both flavours read the same way.

The file is opened read-only (``mode=ro``): the source server may still be running, and the
import must never change its data.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import pathlib
import sqlite3
from collections.abc import Iterator, Sequence

# Every table and column the import reads; a database without one of them is refused.
REQUIRED: dict[str, tuple[str, ...]] = {
    "projects": ("id", "slug", "human_key", "created_at"),
    "agents": (
        "id",
        "project_id",
        "name",
        "program",
        "model",
        "task_description",
        "inception_ts",
        "last_active_ts",
        "contact_policy",
    ),
    "messages": (
        "id",
        "project_id",
        "sender_id",
        "thread_id",
        "subject",
        "body_md",
        "importance",
        "ack_required",
        "created_ts",
    ),
    "message_recipients": ("message_id", "agent_id", "kind", "read_ts", "ack_ts"),
    "file_reservations": (
        "id",
        "project_id",
        "agent_id",
        "path_pattern",
        "exclusive",
        "reason",
        "created_ts",
        "expires_ts",
        "released_ts",
    ),
    "agent_links": (
        "a_project_id",
        "a_agent_id",
        "b_project_id",
        "b_agent_id",
        "status",
        "reason",
        "created_ts",
        "updated_ts",
        "expires_ts",
    ),
}
# The Rust port's migration ledger: its presence names the flavour.
RUST_LEDGER = "mcp_agent_mail_migrations"
# Messages (with their recipients) read per step: bounds the memory one step holds.
CHUNK = 2000


class SourceError(RuntimeError):
    """The source cannot be imported; the message says why, in one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class SourceProject:
    """A project of the source: its id there and its human key (a repository path)."""

    id: int
    human_key: str
    created_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class SourceAgent:
    """An agent of the source, as stored there."""

    id: int
    project_id: int
    name: str
    program: str
    model: str
    task_description: str
    created_at: int | None
    last_active_at: int | None
    contact_policy: str


@dataclasses.dataclass(frozen=True, slots=True)
class SourceRecipient:
    """One recipient row: who, how addressed (``to``/``cc``/``bcc``), read and ack times."""

    agent_id: int
    kind: str
    read_at: int | None
    ack_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class SourceMessage:
    """A message of the source with its recipients; ``attachments`` tells whether it had any
    (they are files in the source's archive, not in the database, and are not imported)."""

    id: int
    project_id: int
    sender_id: int
    thread_id: str
    subject: str
    body: str
    importance: str
    ack_required: bool
    created_at: int | None
    recipients: tuple[SourceRecipient, ...]
    attachments: bool


@dataclasses.dataclass(frozen=True, slots=True)
class SourceReservation:
    """A file reservation of the source."""

    id: int
    project_id: int
    agent_id: int
    pattern: str
    exclusive: bool
    reason: str
    created_at: int | None
    expires_at: int | None
    released_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class SourceLink:
    """A directed contact link of the source (agent A asked agent B)."""

    a_project_id: int
    a_agent_id: int
    b_project_id: int
    b_agent_id: int
    status: str
    reason: str
    created_at: int | None
    expires_at: int | None


def micros(value: object) -> int | None:
    """A stored time as microseconds since the epoch, or None when absent or unreadable.

    Integers are microseconds (the Rust port); text is ISO 8601 (the Python server writes
    ``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC), or digits of microseconds.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = value.strip()
    digits = text.removeprefix("-")
    if digits.isascii() and digits.isdigit():  # not "²", which str.isdigit() accepts
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Source:
    """An open, recognised mcp_agent_mail database (read-only).

    Raises:
        SourceError: no such file, not an SQLite database, or not a schema this import knows.
    """

    def __init__(self, path: pathlib.Path) -> None:
        if not path.exists():
            raise SourceError(f"no such file: {path}")
        if not path.is_file():
            raise SourceError(f"{path} is not a file")
        self.path = path
        uri = f"{path.resolve().as_uri()}?mode=ro"
        try:
            self.conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise SourceError(f"cannot open {path}: {exc}") from None
        try:
            self.flavour = self._recognise()
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recognise(self) -> str:
        """``python`` or ``rust``; raises SourceError for anything else."""
        try:
            tables = {
                row[0]
                for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"{self.path} is not an SQLite database ({exc})") from None
        if {"deliveries", "agent_tokens"} <= tables:
            raise SourceError(f"{self.path} is an agentmail database, not an mcp_agent_mail one")
        if not tables & REQUIRED.keys():
            raise SourceError(
                f"{self.path} is not an mcp_agent_mail database (none of the tables "
                f"{', '.join(sorted(REQUIRED))})"
            )
        for table, columns in REQUIRED.items():
            if table not in tables:
                raise SourceError(
                    f"unsupported mcp_agent_mail schema in {self.path}: no table {table} (a "
                    "version older than contact links? start a current mcp_agent_mail on it "
                    "once to upgrade it, then import)"
                )
            have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            missing = [column for column in columns if column not in have]
            if missing:
                raise SourceError(
                    f"unsupported mcp_agent_mail schema in {self.path}: table {table} has no "
                    f"column {', '.join(missing)}"
                )
        return "rust" if RUST_LEDGER in tables else "python"

    def count(self, table: str) -> int:
        """Rows in one of the :data:`REQUIRED` tables."""
        assert table in REQUIRED
        (total,) = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(total)

    def projects(self) -> list[SourceProject]:
        """Every project, in id order."""
        rows = self.conn.execute("SELECT id, human_key, created_at FROM projects ORDER BY id")
        return [SourceProject(int(r[0]), _text(r[1]), micros(r[2])) for r in rows]

    def agents(self) -> list[SourceAgent]:
        """Every agent, in id order."""
        rows = self.conn.execute(
            "SELECT id, project_id, name, program, model, task_description, inception_ts,"
            " last_active_ts, contact_policy FROM agents ORDER BY id"
        )
        return [
            SourceAgent(
                id=int(r[0]),
                project_id=int(r[1]),
                name=_text(r[2]),
                program=_text(r[3]),
                model=_text(r[4]),
                task_description=_text(r[5]),
                created_at=micros(r[6]),
                last_active_at=micros(r[7]),
                contact_policy=_text(r[8]),
            )
            for r in rows
        ]

    def message_chunks(self, size: int = CHUNK) -> Iterator[list[SourceMessage]]:
        """Every message with its recipients, in id order, ``size`` messages at a time."""
        has_attachments = "attachments" in {
            row[1] for row in self.conn.execute("PRAGMA table_info(messages)")
        }
        attachments = "attachments" if has_attachments else "'[]'"
        after = -1 << 62
        while True:
            rows = self.conn.execute(
                "SELECT id, project_id, sender_id, thread_id, subject, body_md, importance,"
                f" ack_required, created_ts, {attachments} FROM messages WHERE id > ?"
                " ORDER BY id LIMIT ?",
                (after, size),
            ).fetchall()
            if not rows:
                return
            first, last = int(rows[0][0]), int(rows[-1][0])
            recipients: dict[int, list[SourceRecipient]] = {}
            for mid, agent_id, kind, read_ts, ack_ts in self.conn.execute(
                "SELECT message_id, agent_id, kind, read_ts, ack_ts FROM message_recipients"
                " WHERE message_id BETWEEN ? AND ? ORDER BY message_id, rowid",
                (first, last),
            ):
                recipients.setdefault(int(mid), []).append(
                    SourceRecipient(int(agent_id), _text(kind), micros(read_ts), micros(ack_ts))
                )
            yield [_message(row, recipients.get(int(row[0]), ())) for row in rows]
            after = last

    def reservations(self) -> list[SourceReservation]:
        """Every file reservation, in id order (the import keeps only active ones)."""
        rows = self.conn.execute(
            "SELECT id, project_id, agent_id, path_pattern, exclusive, reason, created_ts,"
            " expires_ts, released_ts FROM file_reservations ORDER BY id"
        )
        return [
            SourceReservation(
                id=int(r[0]),
                project_id=int(r[1]),
                agent_id=int(r[2]),
                pattern=_text(r[3]),
                exclusive=bool(r[4]),
                reason=_text(r[5]),
                created_at=micros(r[6]),
                expires_at=micros(r[7]),
                released_at=micros(r[8]),
            )
            for r in rows
        ]

    def links(self) -> list[SourceLink]:
        """Every contact link, oldest first."""
        rows = self.conn.execute(
            "SELECT a_project_id, a_agent_id, b_project_id, b_agent_id, status, reason,"
            " created_ts, expires_ts FROM agent_links ORDER BY rowid"
        )
        return [
            SourceLink(
                a_project_id=int(r[0]),
                a_agent_id=int(r[1]),
                b_project_id=int(r[2]),
                b_agent_id=int(r[3]),
                status=_text(r[4]),
                reason=_text(r[5]),
                created_at=micros(r[6]),
                expires_at=micros(r[7]),
            )
            for r in rows
        ]


def _message(row: Sequence[object], recipients: Sequence[SourceRecipient]) -> SourceMessage:
    raw_attachments = _text(row[9]).strip()
    return SourceMessage(
        id=int(row[0]),  # type: ignore[call-overload]
        project_id=int(row[1]),  # type: ignore[call-overload]
        sender_id=int(row[2]),  # type: ignore[call-overload]
        thread_id=_text(row[3]),
        subject=_text(row[4]),
        body=_text(row[5]),
        importance=_text(row[6]),
        ack_required=bool(row[7]),
        created_at=micros(row[8]),
        recipients=tuple(recipients),
        attachments=raw_attachments not in ("", "[]", "null"),
    )
