"""Writing databases in mcp_agent_mail's schema, for the import's tests and its bench.

The tables are those the Python server creates with SQLModel (times as naive UTC text
``YYYY-MM-DD HH:MM:SS.ffffff``, as SQLAlchemy stores a DATETIME in SQLite) or, with
``flavour="rust"``, those the Rust port creates (times as integer microseconds, plus its
migration ledger). Only the columns both define are written, with the other columns the
Python server has (``attachments``, the agent's ``attachments_policy``) so the shape is real.
"""

from __future__ import annotations

import datetime
import pathlib
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

Moment = datetime.datetime

_PYTHON_DDL = """
CREATE TABLE projects (
    id INTEGER NOT NULL PRIMARY KEY, slug VARCHAR(255) NOT NULL UNIQUE,
    human_key VARCHAR(255) NOT NULL, created_at DATETIME NOT NULL);
CREATE TABLE agents (
    id INTEGER NOT NULL PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects (id),
    name VARCHAR(128) NOT NULL, program VARCHAR(128) NOT NULL, model VARCHAR(128) NOT NULL,
    task_description VARCHAR(2048) NOT NULL, inception_ts DATETIME NOT NULL,
    last_active_ts DATETIME NOT NULL, attachments_policy VARCHAR(16) NOT NULL,
    contact_policy VARCHAR(16) NOT NULL,
    CONSTRAINT uq_agent_project_name UNIQUE (project_id, name));
CREATE TABLE messages (
    id INTEGER NOT NULL PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects (id),
    sender_id INTEGER NOT NULL REFERENCES agents (id), thread_id VARCHAR(128),
    subject VARCHAR(512) NOT NULL, body_md VARCHAR NOT NULL, importance VARCHAR(16) NOT NULL,
    ack_required BOOLEAN NOT NULL, created_ts DATETIME NOT NULL,
    attachments JSON DEFAULT '[]' NOT NULL);
CREATE TABLE message_recipients (
    message_id INTEGER NOT NULL REFERENCES messages (id),
    agent_id INTEGER NOT NULL REFERENCES agents (id), kind VARCHAR(8) NOT NULL,
    read_ts DATETIME, ack_ts DATETIME, PRIMARY KEY (message_id, agent_id));
CREATE TABLE file_reservations (
    id INTEGER NOT NULL PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects (id),
    agent_id INTEGER NOT NULL REFERENCES agents (id), path_pattern VARCHAR(512) NOT NULL,
    exclusive BOOLEAN NOT NULL, reason VARCHAR(512) NOT NULL, created_ts DATETIME NOT NULL,
    expires_ts DATETIME NOT NULL, released_ts DATETIME);
CREATE TABLE agent_links (
    id INTEGER NOT NULL PRIMARY KEY, a_project_id INTEGER NOT NULL REFERENCES projects (id),
    a_agent_id INTEGER NOT NULL REFERENCES agents (id),
    b_project_id INTEGER NOT NULL REFERENCES projects (id),
    b_agent_id INTEGER NOT NULL REFERENCES agents (id), status VARCHAR(16) NOT NULL,
    reason VARCHAR(512) NOT NULL, created_ts DATETIME NOT NULL, updated_ts DATETIME NOT NULL,
    expires_ts DATETIME,
    CONSTRAINT uq_agentlink_pair UNIQUE (a_project_id, a_agent_id, b_project_id, b_agent_id));
CREATE VIRTUAL TABLE fts_messages USING fts5(message_id UNINDEXED, subject, body);
CREATE TRIGGER fts_messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO fts_messages(rowid, message_id, subject, body)
    VALUES (new.id, new.id, new.subject, new.body_md);
END;
"""
_RUST_EXTRA = """
CREATE TABLE mcp_agent_mail_migrations (
    id TEXT PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL);
INSERT INTO mcp_agent_mail_migrations VALUES ('v1_create_table_projects', 'create table', 0);
"""


def stamp(moment: Moment | None, flavour: str) -> object:
    """A time as the flavour stores it (None stays None)."""
    if moment is None:
        return None
    utc = moment.astimezone(datetime.UTC) if moment.tzinfo else moment
    if flavour == "rust":
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        delta = utc.replace(tzinfo=datetime.UTC) - epoch
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


class McpDatabase:
    """A new database file in mcp_agent_mail's schema; rows go in through the methods."""

    def __init__(self, path: pathlib.Path, flavour: str = "python") -> None:
        assert flavour in ("python", "rust")
        self.flavour = flavour
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        ddl = _PYTHON_DDL
        if flavour == "rust":
            ddl = ddl.replace("DATETIME", "INTEGER") + _RUST_EXTRA
        self.conn.executescript(ddl)

    def close(self) -> None:
        """Checkpoint and close."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    def _t(self, moment: Moment | None) -> object:
        return stamp(moment, self.flavour)

    def project(self, human_key: str, created: Moment) -> int:
        """Add a project; its id."""
        slug = human_key.strip("/").replace("/", "-").lower() or "root"
        cursor = self.conn.execute(
            "INSERT INTO projects (slug, human_key, created_at) VALUES (?, ?, ?)",
            (slug, human_key, self._t(created)),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def agent(
        self,
        project_id: int,
        name: str,
        created: Moment,
        *,
        program: str = "claude-code",
        model: str = "opus",
        task: str = "",
        contact_policy: str = "auto",
        last_active: Moment | None = None,
    ) -> int:
        """Add an agent; its id."""
        cursor = self.conn.execute(
            "INSERT INTO agents (project_id, name, program, model, task_description,"
            " inception_ts, last_active_ts, attachments_policy, contact_policy)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'auto', ?)",
            (
                project_id,
                name,
                program,
                model,
                task,
                self._t(created),
                self._t(last_active or created),
                contact_policy,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def message(
        self,
        project_id: int,
        sender_id: int,
        subject: str,
        body: str,
        created: Moment,
        *,
        to: Sequence[int] = (),
        cc: Sequence[int] = (),
        bcc: Sequence[int] = (),
        thread_id: str | None = None,
        importance: str = "normal",
        ack_required: bool = False,
        marks: Mapping[int, tuple[Moment | None, Moment | None]] | None = None,
        attachments: str = "[]",
    ) -> int:
        """Add a message and its recipient rows (``marks``: agent -> (read, ack)); its id."""
        cursor = self.conn.execute(
            "INSERT INTO messages (project_id, sender_id, thread_id, subject, body_md,"
            " importance, ack_required, created_ts, attachments) VALUES (?, ?, ?, ?, ?, ?, ?,"
            " ?, ?)",
            (
                project_id,
                sender_id,
                thread_id,
                subject,
                body,
                importance,
                int(ack_required),
                self._t(created),
                attachments,
            ),
        )
        message_id = cursor.lastrowid
        assert message_id is not None
        marks = marks or {}
        rows = [
            (message_id, agent, kind, *(self._t(m) for m in marks.get(agent, (None, None))))
            for kind, agents in (("to", to), ("cc", cc), ("bcc", bcc))
            for agent in agents
        ]
        self.recipients(rows)
        return message_id

    def recipients(self, rows: Iterable[tuple[object, ...]]) -> None:
        """Add recipient rows ``(message, agent, kind, read, ack)`` as stored."""
        self.conn.executemany(
            "INSERT INTO message_recipients (message_id, agent_id, kind, read_ts, ack_ts)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    def many_messages(
        self,
        project_id: int,
        sender_id: int,
        recipient_ids: Sequence[int],
        count: int,
        start: Moment,
        body: str,
    ) -> None:
        """Add ``count`` messages (one second apart from ``start``), each to every one of
        ``recipient_ids``, in one transaction: the bench's source."""
        self.conn.execute("BEGIN")
        first = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM messages").fetchone()[0]
        self.conn.executemany(
            "INSERT INTO messages (id, project_id, sender_id, thread_id, subject, body_md,"
            " importance, ack_required, created_ts) VALUES (?, ?, ?, NULL, ?, ?, 'normal', 0, ?)",
            (
                (
                    first + i,
                    project_id,
                    sender_id,
                    f"message {i}",
                    body,
                    self._t(start + datetime.timedelta(seconds=i)),
                )
                for i in range(count)
            ),
        )
        self.recipients(
            (first + i, agent, "to", None, None) for i in range(count) for agent in recipient_ids
        )
        self.conn.execute("COMMIT")

    def reservation(
        self,
        project_id: int,
        agent_id: int,
        pattern: str,
        created: Moment,
        expires: Moment,
        *,
        exclusive: bool = True,
        reason: str = "",
        released: Moment | None = None,
    ) -> None:
        """Add a file reservation."""
        self.conn.execute(
            "INSERT INTO file_reservations (project_id, agent_id, path_pattern, exclusive,"
            " reason, created_ts, expires_ts, released_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                project_id,
                agent_id,
                pattern,
                int(exclusive),
                reason,
                self._t(created),
                self._t(expires),
                self._t(released),
            ),
        )

    def link(
        self,
        a: tuple[int, int],
        b: tuple[int, int],
        status: str,
        created: Moment,
        *,
        reason: str = "",
        expires: Moment | None = None,
    ) -> None:
        """Add a contact link from agent ``a`` to agent ``b`` (each ``(project, agent)``)."""
        self.conn.execute(
            "INSERT INTO agent_links (a_project_id, a_agent_id, b_project_id, b_agent_id,"
            " status, reason, created_ts, updated_ts, expires_ts) VALUES (?, ?, ?, ?, ?, ?, ?,"
            " ?, ?)",
            (*a, *b, status, reason, self._t(created), self._t(created), self._t(expires)),
        )
