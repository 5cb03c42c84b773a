"""Read queries, all index seeks, run on the read pool.

Inbox pages seek the caller's ``deliveries`` rows (clustered on agent and message id, with
partial indexes for the unread, urgent and topic filters) and probe each page row's envelope
by primary key, in one statement. No query scans a table or calls a function on an indexed column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentmail_server.domain.contacts import ContactLink
from agentmail_server.domain.filters import AgentFilter, InboxFilter
from agentmail_server.domain.inbox_rows import InboxRow
from agentmail_server.domain.models import (
    Agent,
    Delivery,
    Identity,
    InboxItem,
    Message,
    Project,
    TokenHolder,
)
from agentmail_server.domain.notices import Notice
from agentmail_server.storage.sqlite import directory_queries
from agentmail_server.storage.sqlite.notices import NOTICE_COLUMNS, notice_from_row
from agentmail_server.storage.sqlite.readers import ReadPool
from agentmail_server.storage.sqlite.rows import (
    AGENT_COLUMNS,
    AGENT_FROM,
    DELIVERY_COLUMNS,
    MESSAGE_COLUMNS,
    PROJECT_COLUMNS,
    agent_from_row,
    body_column,
    delivery_from_row,
    inbox_row_columns,
    message_from_row,
    project_from_row,
)


class Queries:
    """Every read the services make: the SQLite
    :class:`~agentmail_server.storage.ports.MailReads`."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def project_by_slug(self, slug: str) -> Project | None:
        """The project with this slug."""
        row = await self._pool.fetchone(
            f"SELECT {PROJECT_COLUMNS} FROM projects WHERE slug = ?", (slug,)
        )
        return None if row is None else project_from_row(row)

    async def project_by_human_key(self, human_key: str) -> Project | None:
        """The project ensured with this human key."""
        row = await self._pool.fetchone(
            f"SELECT {PROJECT_COLUMNS} FROM projects WHERE human_key = ?", (human_key,)
        )
        return None if row is None else project_from_row(row)

    async def projects(self, after_id: int, limit: int) -> list[Project]:
        """Projects in creation order after ``after_id``."""
        rows = await self._pool.fetchall(
            f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [project_from_row(row) for row in rows]

    async def agent_by_key(self, project_id: int, name_key: str) -> Agent | None:
        """The agent whose normalised name is ``name_key``."""
        row = await self._pool.fetchone(
            f"SELECT {AGENT_COLUMNS} FROM {AGENT_FROM} WHERE a.project_id = ? AND a.name_key = ?",
            (project_id, name_key),
        )
        return None if row is None else agent_from_row(row)

    async def agents(
        self, project_id: int, after_id: int, limit: int, flt: AgentFilter | None = None
    ) -> list[Agent]:
        """A project's agents in registration order after ``after_id``, filtered by ``flt``."""
        return await directory_queries.agents(self._pool, project_id, after_id, limit, flt)

    async def contacts(self, agent_id: int, after_id: int, limit: int) -> list[ContactLink]:
        """The agent's links in both directions, in creation order after ``after_id``."""
        return await directory_queries.contacts(self._pool, agent_id, after_id, limit)

    async def contact_link(self, from_id: int, to_id: int) -> ContactLink | None:
        """The link from one agent to another, if any."""
        return await directory_queries.contact_link(self._pool, from_id, to_id)

    async def identity_by_token_hash(self, token_hash: str) -> TokenHolder | None:
        """Who holds the token with this hash, and until when (a unique-index seek)."""
        row = await self._pool.fetchone(
            "SELECT a.id, a.project_id, p.slug, a.name, t.expires_at, t.token_hash"
            " FROM agent_tokens t JOIN agents a ON a.id = t.agent_id"
            " JOIN projects p ON p.id = a.project_id WHERE t.token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        return TokenHolder(Identity(row[0], row[1], row[2], row[3]), row[4], row[5])

    async def agents_by_keys(
        self, project_id: int, name_keys: Sequence[str]
    ) -> list[tuple[int, str, str]]:
        """(id, name, name_key) of the project's agents among ``name_keys``."""
        if not name_keys:
            return []
        marks = ",".join("?" * len(name_keys))
        return await self._pool.fetchall(
            f"SELECT id, name, name_key FROM agents WHERE project_id = ? AND name_key IN ({marks})",
            (project_id, *name_keys),
        )

    async def broadcast_targets(
        self, project_id: int, sender_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """(id, name) of every other agent of the project, in registration order."""
        return await self._pool.fetchall(
            "SELECT id, name FROM agents WHERE project_id = ? AND id <> ? ORDER BY id LIMIT ?",
            (project_id, sender_id, limit),
        )

    async def inbox_tail(self, agent_id: int) -> int:
        """The newest position in the agent's inbox stream, mail or notice (0 when empty)."""
        row = await self._pool.fetchone(
            "SELECT max((SELECT coalesce(max(message_id), 0) FROM deliveries WHERE agent_id = ?),"
            " (SELECT coalesce(max(position), 0) FROM notices WHERE agent_id = ?))",
            (agent_id, agent_id),
        )
        return int(row[0]) if row else 0

    async def notices(self, agent_id: int, after: int, limit: int) -> list[Notice]:
        """The agent's notices after position ``after``, oldest first (a key range seek)."""
        rows = await self._pool.fetchall(
            f"SELECT {NOTICE_COLUMNS} FROM notices WHERE agent_id = ? AND position > ?"
            " ORDER BY position LIMIT ?",
            (agent_id, after, limit),
        )
        return [notice_from_row(row) for row in rows]

    async def message_for(
        self, message_id: int, viewer_id: int
    ) -> tuple[Message, Delivery | None] | None:
        """The message with the viewer's delivery, if the viewer sent or received it."""
        row = await self._pool.fetchone(
            f"SELECT {MESSAGE_COLUMNS}, m.body, {DELIVERY_COLUMNS} FROM messages m"
            " LEFT JOIN deliveries d ON d.agent_id = ? AND d.message_id = m.id"
            " WHERE m.id = ? AND (m.sender_id = ? OR d.agent_id IS NOT NULL)",
            (viewer_id, message_id, viewer_id),
        )
        if row is None:
            return None
        delivery = delivery_from_row(row, 15) if row[15] is not None else None
        return message_from_row(row), delivery

    async def inbox(
        self,
        agent_id: int,
        flt: InboxFilter,
        *,
        after_id: int | None,
        before_id: int | None,
        newest_first: bool,
        limit: int,
        include_bodies: bool,
    ) -> list[InboxItem]:
        """One page of the agent's inbox (not yet restricted to the viewer's bcc view)."""
        columns = f"{MESSAGE_COLUMNS}, {body_column(include_bodies)}, {DELIVERY_COLUMNS}"
        sql, params = _inbox_statement(columns, agent_id, flt, after_id, before_id, newest_first)
        rows = await self._pool.fetchall(sql, (*params, limit))
        return [InboxItem(message_from_row(row), delivery_from_row(row, 15)) for row in rows]

    async def inbox_rows(
        self,
        agent_id: int,
        agent_name: str,
        flt: InboxFilter,
        *,
        after_id: int | None,
        before_id: int | None,
        newest_first: bool,
        limit: int,
        include_bodies: bool,
    ) -> list[InboxRow]:
        """:meth:`inbox` as wire rows, already in the reader's bcc view (the same statement,
        another select list)."""
        sql, params = _inbox_statement(
            inbox_row_columns(include_bodies), agent_id, flt, after_id, before_id, newest_first
        )
        return await self._pool.fetchall(sql, (agent_id, agent_name, *params, limit))

    async def outbox(
        self, sender_id: int, before_id: int | None, limit: int, include_bodies: bool
    ) -> list[Message]:
        """The sender's messages, newest first, before ``before_id``."""
        where, params = _bounds(["m.sender_id = ?"], [sender_id], "m.id", None, before_id)
        rows = await self._pool.fetchall(
            f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)} FROM messages m"
            f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT ?",
            (*params, limit),
        )
        return [message_from_row(row) for row in rows]

    async def thread(
        self,
        project_id: int,
        thread_id: str,
        viewer_id: int,
        after_id: int | None,
        limit: int,
        include_bodies: bool,
    ) -> list[tuple[Message, Delivery | None]]:
        """Messages of a thread the viewer sent or received, oldest first."""
        where, params = _bounds(
            ["m.project_id = ?", "m.thread_id = ?", "(m.sender_id = ? OR d.agent_id IS NOT NULL)"],
            [project_id, thread_id, viewer_id],
            "m.id",
            after_id,
            None,
        )
        rows = await self._pool.fetchall(
            f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)}, {DELIVERY_COLUMNS}"
            " FROM messages m LEFT JOIN deliveries d ON d.agent_id = ? AND d.message_id = m.id"
            f" WHERE {' AND '.join(where)} ORDER BY m.id LIMIT ?",
            (viewer_id, *params, limit),
        )
        return [
            (message_from_row(row), delivery_from_row(row, 15) if row[15] is not None else None)
            for row in rows
        ]


def _inbox_statement(
    columns: str,
    agent_id: int,
    flt: InboxFilter,
    after_id: int | None,
    before_id: int | None,
    newest_first: bool,
) -> tuple[str, list[Any]]:
    """An inbox page's statement selecting ``columns`` (whose own parameters come first) and
    its parameters but the trailing LIMIT."""
    order = "DESC" if newest_first else "ASC"
    if flt.thread_id:
        # A thread is small: seek it through the messages index and probe the caller's
        # deliveries by primary key, instead of keeping a thread index on every delivery.
        where = ["m.thread_id = ?", "m.project_id = (SELECT project_id FROM agents WHERE id = ?)"]
        params: list[Any] = [flt.thread_id, agent_id]
        _delivery_filters(where, params, flt)
        where, params = _bounds(where, params, "m.id", after_id, before_id)
        sql = (
            f"SELECT {columns}"
            " FROM messages m JOIN deliveries d ON d.agent_id = ? AND d.message_id = m.id"
            f" WHERE {' AND '.join(where)} ORDER BY m.id {order} LIMIT ?"
        )
        return sql, [agent_id, *params]
    # One statement: the seek on the caller's deliveries drives it (its primary key gives the
    # order and the LIMIT stops it), each envelope is then a primary-key probe; one round trip
    # to the read pool instead of two.
    where = ["d.agent_id = ?"]
    params = [agent_id]
    _delivery_filters(where, params, flt)
    where, params = _bounds(where, params, "d.message_id", after_id, before_id)
    sql = (
        f"SELECT {columns} FROM deliveries d CROSS JOIN messages m ON m.id = d.message_id"
        f" WHERE {' AND '.join(where)} ORDER BY d.message_id {order} LIMIT ?"
    )
    return sql, params


def _delivery_filters(where: list[str], params: list[Any], flt: InboxFilter) -> None:
    """The unread, urgent and topic clauses on the caller's deliveries (alias ``d``), which the
    plain and the thread inbox queries share."""
    if flt.unread_only:
        where.append("d.read_at IS NULL")
    if flt.urgent_only:
        where.append("d.importance >= 3")
    if flt.topic:
        where.append("d.topic = ?")
        params.append(flt.topic)


def _bounds(
    where: list[str],
    params: list[Any],
    column: str,
    after_id: int | None,
    before_id: int | None,
) -> tuple[list[str], list[Any]]:
    if after_id is not None:
        where = [*where, f"{column} > ?"]
        params = [*params, after_id]
    if before_id is not None:
        where = [*where, f"{column} < ?"]
        params = [*params, before_id]
    return where, params
