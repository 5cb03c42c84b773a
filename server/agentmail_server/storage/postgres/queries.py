"""Every read of projects, agents and mail on PostgreSQL: the
:class:`~agentmail_server.storage.ports.MailReads` of this backend.

The same statements as the SQLite backend's (:mod:`agentmail_server.storage.sqlite.queries`)
in PostgreSQL's dialect: ``%s`` parameters, ``= ANY(array)`` for id lists, ``greatest``.
Inbox pages seek the caller's ``deliveries`` rows (primary key agent, message id, and the
partial indexes of the unread, urgent and topic filters), then fetch the page's envelopes by
primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentmail_server.domain.contacts import ContactLink
from agentmail_server.domain.filters import AgentFilter, InboxFilter
from agentmail_server.domain.inbox_rows import BODY, InboxRow
from agentmail_server.domain.models import (
    Agent,
    Delivery,
    Identity,
    InboxItem,
    Message,
    Project,
    TokenHolder,
)
from agentmail_server.domain.notices import Notice, decode_detail
from agentmail_server.storage.postgres.readers import ReadPool
from agentmail_server.storage.postgres.rows import message_from_row, unescape_body
from agentmail_server.storage.sqlite.contacts import LINK_COLUMNS, LINK_FROM, link_from_row
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
    project_from_row,
)


class PgQueries:
    """Every read the services make, on the read pool."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def project_by_slug(self, slug: str) -> Project | None:
        """The project with this slug."""
        row = await self._pool.fetchone(
            f"SELECT {PROJECT_COLUMNS} FROM projects WHERE slug = %s", (slug,)
        )
        return None if row is None else project_from_row(row)

    async def project_by_human_key(self, human_key: str) -> Project | None:
        """The project ensured with this human key."""
        row = await self._pool.fetchone(
            f"SELECT {PROJECT_COLUMNS} FROM projects WHERE human_key = %s", (human_key,)
        )
        return None if row is None else project_from_row(row)

    async def projects(self, after_id: int, limit: int) -> list[Project]:
        """Projects in creation order after ``after_id``."""
        rows = await self._pool.fetchall(
            f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id > %s ORDER BY id LIMIT %s",
            (after_id, limit),
        )
        return [project_from_row(row) for row in rows]

    async def agent_by_key(self, project_id: int, name_key: str) -> Agent | None:
        """The agent whose normalised name is ``name_key``."""
        row = await self._pool.fetchone(
            f"SELECT {AGENT_COLUMNS} FROM {AGENT_FROM} WHERE a.project_id = %s AND a.name_key = %s",
            (project_id, name_key),
        )
        return None if row is None else agent_from_row(row)

    async def agents(
        self, project_id: int, after_id: int, limit: int, flt: AgentFilter | None = None
    ) -> list[Agent]:
        """A project's agents in registration order after ``after_id``, filtered by ``flt``."""
        flt = flt or AgentFilter(include_retired=True)
        clauses = ["a.project_id = %s", "a.id > %s"]
        params: list[object] = [project_id, after_id]
        source = AGENT_FROM
        if flt.capability_key:
            source = (
                "agent_capabilities c JOIN agents a ON a.id = c.agent_id"
                " JOIN projects p ON p.id = a.project_id"
            )
            clauses = ["c.project_id = %s", "c.capability_key = %s", "c.agent_id > %s"]
            params = [project_id, flt.capability_key, after_id]
        if not flt.include_retired:
            clauses.append("a.retired_at IS NULL")
        if flt.active_since is not None:
            clauses.append("coalesce(a.last_active_at, a.created_at) >= %s")
            params.append(flt.active_since)
        order = "c.agent_id" if flt.capability_key else "a.id"
        rows = await self._pool.fetchall(
            f"SELECT {AGENT_COLUMNS} FROM {source} WHERE {' AND '.join(clauses)}"
            f" ORDER BY {order} LIMIT %s",
            (*params, limit),
        )
        return [agent_from_row(row) for row in rows]

    async def contacts(self, agent_id: int, after_id: int, limit: int) -> list[ContactLink]:
        """The agent's links in both directions, in creation order after ``after_id``."""
        rows = await self._pool.fetchall(
            f"SELECT {LINK_COLUMNS} FROM {LINK_FROM}"
            " WHERE (c.from_agent = %s OR c.to_agent = %s) AND c.id > %s ORDER BY c.id LIMIT %s",
            (agent_id, agent_id, after_id, limit),
        )
        return [link_from_row(row) for row in rows]

    async def contact_link(self, from_id: int, to_id: int) -> ContactLink | None:
        """The link from one agent to another, if any."""
        row = await self._pool.fetchone(
            f"SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE c.from_agent = %s AND c.to_agent = %s",
            (from_id, to_id),
        )
        return None if row is None else link_from_row(row)

    async def identity_by_token_hash(self, token_hash: str) -> TokenHolder | None:
        """Who holds the token with this hash, and until when (a unique-index seek)."""
        row = await self._pool.fetchone(
            "SELECT a.id, a.project_id, p.slug, a.name, t.expires_at, t.token_hash"
            " FROM agent_tokens t JOIN agents a ON a.id = t.agent_id"
            " JOIN projects p ON p.id = a.project_id WHERE t.token_hash = %s",
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
        rows = await self._pool.fetchall(
            "SELECT id, name, name_key FROM agents WHERE project_id = %s AND name_key = ANY(%s)",
            (project_id, list(name_keys)),
        )
        return [(row[0], row[1], row[2]) for row in rows]

    async def broadcast_targets(
        self, project_id: int, sender_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """(id, name) of every other agent of the project, in registration order."""
        rows = await self._pool.fetchall(
            "SELECT id, name FROM agents WHERE project_id = %s AND id <> %s ORDER BY id LIMIT %s",
            (project_id, sender_id, limit),
        )
        return [(row[0], row[1]) for row in rows]

    async def inbox_tail(self, agent_id: int) -> int:
        """The newest position in the agent's inbox stream, mail or notice (0 when empty)."""
        row = await self._pool.fetchone(
            "SELECT greatest("
            "(SELECT coalesce(max(message_id), 0) FROM deliveries WHERE agent_id = %s),"
            " (SELECT coalesce(max(position), 0) FROM notices WHERE agent_id = %s))",
            (agent_id, agent_id),
        )
        return int(row[0]) if row else 0

    async def notices(self, agent_id: int, after: int, limit: int) -> list[Notice]:
        """The agent's notices after position ``after``, oldest first (a key range seek)."""
        rows = await self._pool.fetchall(
            "SELECT agent_id, position, created_at, type, payload FROM notices"
            " WHERE agent_id = %s AND position > %s ORDER BY position LIMIT %s",
            (agent_id, after, limit),
        )
        return [Notice(r[0], r[1], r[2], decode_detail(r[3], r[4])) for r in rows]

    async def message_for(
        self, message_id: int, viewer_id: int
    ) -> tuple[Message, Delivery | None] | None:
        """The message with the viewer's delivery, if the viewer sent or received it."""
        row = await self._pool.fetchone(
            f"SELECT {MESSAGE_COLUMNS}, m.body, {DELIVERY_COLUMNS} FROM messages m"
            " LEFT JOIN deliveries d ON d.agent_id = %s AND d.message_id = m.id"
            " WHERE m.id = %s AND (m.sender_id = %s OR d.agent_id IS NOT NULL)",
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
        order = "DESC" if newest_first else "ASC"
        if flt.thread_id:
            where = [
                "m.thread_id = %s",
                "m.project_id = (SELECT project_id FROM agents WHERE id = %s)",
            ]
            params: list[Any] = [flt.thread_id, agent_id]
            _delivery_filters(where, params, flt)
            _bounds(where, params, "m.id", after_id, before_id)
            rows = await self._pool.fetchall(
                f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)}, {DELIVERY_COLUMNS}"
                " FROM messages m JOIN deliveries d ON d.agent_id = %s AND d.message_id = m.id"
                f" WHERE {' AND '.join(where)} ORDER BY m.id {order} LIMIT %s",
                (agent_id, *params, limit),
            )
            return [InboxItem(message_from_row(row), delivery_from_row(row, 15)) for row in rows]
        where = ["d.agent_id = %s"]
        params = [agent_id]
        _delivery_filters(where, params, flt)
        _bounds(where, params, "d.message_id", after_id, before_id)
        deliveries = await self._pool.fetchall(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE {' AND '.join(where)}"
            f" ORDER BY d.message_id {order} LIMIT %s",
            (*params, limit),
        )
        found = [delivery_from_row(row) for row in deliveries]
        if not found:
            return []
        by_id = await self.messages_by_id([d.message_id for d in found], include_bodies)
        return [InboxItem(by_id[d.message_id], d) for d in found]

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
        """:meth:`inbox` as wire rows, already in the reader's bcc view: the same seeks in
        one statement (the page of deliveries first, then each envelope by primary key)."""
        order = "DESC" if newest_first else "ASC"
        columns = inbox_row_columns(include_bodies, "%s")
        if flt.thread_id:
            where = [
                "m.thread_id = %s",
                "m.project_id = (SELECT project_id FROM agents WHERE id = %s)",
            ]
            params: list[Any] = [flt.thread_id, agent_id]
            _delivery_filters(where, params, flt)
            _bounds(where, params, "m.id", after_id, before_id)
            sql = (
                f"SELECT {columns}"
                " FROM messages m JOIN deliveries d ON d.agent_id = %s AND d.message_id = m.id"
                f" WHERE {' AND '.join(where)} ORDER BY m.id {order} LIMIT %s"
            )
            params = [agent_id, *params]
        else:
            where = ["agent_id = %s"]
            params = [agent_id]
            _delivery_filters(where, params, flt, "")
            _bounds(where, params, "message_id", after_id, before_id)
            sql = (
                f"SELECT {columns} FROM (SELECT message_id, kind, read_at, ack_at"
                f" FROM deliveries WHERE {' AND '.join(where)}"
                f" ORDER BY message_id {order} LIMIT %s) d"
                f" JOIN messages m ON m.id = d.message_id ORDER BY d.message_id {order}"
            )
        rows = await self._pool.fetchall(sql, (agent_id, agent_name, *params, limit))
        # Bodies are stored NUL-escaped (see rows.unescape_body); nearly none need undoing.
        return [row if unescape_body(row[BODY]) is row[BODY] else _unescaped(row) for row in rows]

    async def messages_by_id(self, ids: list[int], include_bodies: bool) -> dict[int, Message]:
        """The messages with these ids, by primary key."""
        rows = await self._pool.fetchall(
            f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)} FROM messages m"
            " WHERE m.id = ANY(%s)",
            (ids,),
        )
        return {row[0]: message_from_row(row) for row in rows}

    async def outbox(
        self, sender_id: int, before_id: int | None, limit: int, include_bodies: bool
    ) -> list[Message]:
        """The sender's messages, newest first, before ``before_id``."""
        where = ["m.sender_id = %s"]
        params: list[Any] = [sender_id]
        _bounds(where, params, "m.id", None, before_id)
        rows = await self._pool.fetchall(
            f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)} FROM messages m"
            f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT %s",
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
        where = [
            "m.project_id = %s",
            "m.thread_id = %s",
            "(m.sender_id = %s OR d.agent_id IS NOT NULL)",
        ]
        params: list[Any] = [project_id, thread_id, viewer_id]
        _bounds(where, params, "m.id", after_id, None)
        rows = await self._pool.fetchall(
            f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)}, {DELIVERY_COLUMNS}"
            " FROM messages m LEFT JOIN deliveries d ON d.agent_id = %s AND d.message_id = m.id"
            f" WHERE {' AND '.join(where)} ORDER BY m.id LIMIT %s",
            (viewer_id, *params, limit),
        )
        return [
            (message_from_row(row), delivery_from_row(row, 15) if row[15] is not None else None)
            for row in rows
        ]


def _delivery_filters(
    where: list[str], params: list[Any], flt: InboxFilter, alias: str = "d."
) -> None:
    """The unread, urgent and topic clauses on the caller's deliveries (``alias`` prefixes
    the columns)."""
    if flt.unread_only:
        where.append(f"{alias}read_at IS NULL")
    if flt.urgent_only:
        where.append(f"{alias}importance >= 3")
    if flt.topic:
        where.append(f"{alias}topic = %s")
        params.append(flt.topic)


def _unescaped(row: InboxRow) -> InboxRow:
    return (*row[:BODY], unescape_body(row[BODY]), *row[BODY + 1 :])


def _bounds(
    where: list[str], params: list[Any], column: str, after_id: int | None, before_id: int | None
) -> None:
    if after_id is not None:
        where.append(f"{column} > %s")
        params.append(after_id)
    if before_id is not None:
        where.append(f"{column} < %s")
        params.append(before_id)
