"""Receipt and acknowledgement reads, all index seeks, on the read pool.

- A sender's receipts: ``deliveries`` is keyed by (agent, message), so the receipts of a page
  of messages are found from the recipients' names (stored on each message) through the
  agents' (project, name) index, then one primary-key probe per (recipient, message): no
  index on deliveries by message is kept just for this, and nothing is read per message.
- Pending acknowledgements (sender side) and unacknowledged mail (recipient side) seek the two
  partial indexes of schema version 9, which hold only the deliveries still waiting.

A listing reads all its statements from one snapshot (:meth:`ReadPool.snapshot`), so that an
acknowledgement or a retention purge committed in between never leaves a page inconsistent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from agentmail_server.domain import names
from agentmail_server.domain.models import InboxItem, Message, RecipientKind
from agentmail_server.domain.receipts import PendingAck, Receipt, in_address_order
from agentmail_server.storage.ports import AckPosition
from agentmail_server.storage.sqlite.readers import ReadPool
from agentmail_server.storage.sqlite.rows import (
    DELIVERY_COLUMNS,
    MESSAGE_COLUMNS,
    body_column,
    delivery_from_row,
    message_from_row,
)
from agentmail_server.storage.sqlite.schema import pending_ack

# Lists go in as one JSON parameter: a page of broadcasts may name more recipients than
# SQLite allows parameters in one statement.
_EACH = "(SELECT value FROM json_each(?))"
# The listings name their partial index: the planner would rather walk the covering primary
# key of a recipient's whole inbox, and INDEXED BY makes a query that cannot use its index
# fail instead of silently scanning.
_PENDING_BY_SENDER = "deliveries d INDEXED BY deliveries_pending_acks"
_UNACKNOWLEDGED = "deliveries d INDEXED BY deliveries_unacknowledged"


class ReceiptQueries:
    """The SQLite :class:`~agentmail_server.storage.ports.ReceiptReads`."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def receipts(
        self, sender_id: int, messages: Sequence[Message]
    ) -> dict[int, tuple[Receipt, ...]]:
        """Every recipient's receipt of each of ``messages`` that ``sender_id`` sent."""
        own = [m for m in messages if m.sender_id == sender_id]
        if not own:
            return {}
        rows = await self._pool.fetchall(*receipts_query(own))
        by_message: dict[int, list[Receipt]] = defaultdict(list)
        sent_at = {m.id: m.created_at for m in own}
        for message_id, name, kind, read_at, ack_at in rows:
            receipt = Receipt(name, RecipientKind(kind), sent_at[message_id], read_at, ack_at)
            by_message[message_id].append(receipt)
        return {m.id: in_address_order(m, by_message[m.id]) for m in own}

    async def pending_acks(
        self,
        sender_id: int,
        *,
        after: AckPosition | None,
        before: AckPosition | None,
        sent_before: int | None,
        newest_first: bool,
        limit: int,
        include_bodies: bool,
    ) -> list[PendingAck]:
        """The sender's messages still awaiting an acknowledgement, with who owes it."""
        page_query = pending_page_query(
            sender_id, after, before, sent_before, newest_first=newest_first, limit=limit
        )
        async with self._pool.snapshot() as conn:
            page = await _fetch(conn, *page_query)
            if not page:
                return []
            low, high = min(page), max(page)
            rows = await _fetch(conn, *pending_rows_query(sender_id, low, high))
            ids = [message_id for _, message_id in page]
            messages = await _fetch_messages(conn, ids, include_bodies)
        waiting: dict[int, list[Receipt]] = defaultdict(list)
        for message_id, name, kind, read_at, created_at in rows:
            waiting[message_id].append(
                Receipt(name, RecipientKind(kind), created_at, read_at, ack_at=None)
            )
        return [
            PendingAck(
                messages[message_id], in_address_order(messages[message_id], waiting[message_id])
            )
            for _, message_id in page
        ]

    async def unacknowledged(
        self, agent_id: int, after_id: int | None, limit: int, include_bodies: bool
    ) -> list[InboxItem]:
        """The agent's unacknowledged ack-required mail, oldest first, after ``after_id``."""
        async with self._pool.snapshot() as conn:
            rows = await _fetch(conn, *unacknowledged_query(agent_id, after_id, limit))
            deliveries = [delivery_from_row(row) for row in rows]
            ids = [d.message_id for d in deliveries]
            messages = await _fetch_messages(conn, ids, include_bodies)
        return [InboxItem(messages[d.message_id], d) for d in deliveries]


async def _fetch(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return list(await conn.execute_fetchall(sql, tuple(params)))


async def _fetch_messages(
    conn: aiosqlite.Connection, ids: Sequence[int], include_bodies: bool
) -> dict[int, Message]:
    if not ids:
        return {}
    rows = await _fetch(conn, *messages_query(ids, include_bodies))
    return {row[0]: message_from_row(row) for row in rows}


# The statements, built apart from running them so that a test can check each one's plan.
Query = tuple[str, tuple[Any, ...]]


def receipts_query(messages: Sequence[Message]) -> Query:
    """Every delivery of ``messages`` (all of one sender, so of one project): found from the
    recipients' names. CROSS JOIN fixes the order: agents by (project, name key), then
    deliveries by primary key; the other order would scan deliveries for the message ids."""
    keys = sorted({names.name_key(name) for m in messages for name in (*m.to, *m.cc, *m.bcc)})
    return (
        "SELECT d.message_id, a.name, d.kind, d.read_at, d.ack_at"
        " FROM agents a CROSS JOIN deliveries d ON d.agent_id = a.id"
        f" WHERE a.project_id = ? AND a.name_key IN {_EACH} AND d.message_id IN {_EACH}",
        (messages[0].project_id, _json(keys), _json(m.id for m in messages)),
    )


def pending_page_query(
    sender_id: int,
    after: AckPosition | None,
    before: AckPosition | None,
    sent_before: int | None,
    *,
    newest_first: bool,
    limit: int,
) -> Query:
    """The (commit time, id) of one page of the sender's messages still awaiting an
    acknowledgement: a range of ``deliveries_pending_acks`` read in order (DISTINCT over an
    index in its own order needs no sort)."""
    where = ["d.sender_id = ?", pending_ack("d")]
    params: list[Any] = [sender_id]
    if sent_before is not None:
        where.append("d.created_at <= ?")
        params.append(sent_before)
    if after is not None:
        where.append("(d.created_at, d.message_id) > (?, ?)")
        params.extend(after)
    if before is not None:
        where.append("(d.created_at, d.message_id) < (?, ?)")
        params.extend(before)
    order = "DESC" if newest_first else "ASC"
    return (
        f"SELECT DISTINCT d.created_at, d.message_id FROM {_PENDING_BY_SENDER}"
        f" WHERE {' AND '.join(where)}"
        f" ORDER BY d.created_at {order}, d.message_id {order} LIMIT ?",
        (*params, limit),
    )


def pending_rows_query(sender_id: int, low: AckPosition, high: AckPosition) -> Query:
    """The waiting deliveries of a page, which is one contiguous range of the index from
    ``low`` to ``high``: exactly that range's rows, with the recipients' names."""
    return (
        "SELECT d.message_id, a.name, d.kind, d.read_at, d.created_at"
        f" FROM {_PENDING_BY_SENDER} CROSS JOIN agents a ON a.id = d.agent_id"
        f" WHERE d.sender_id = ? AND {pending_ack('d')}"
        " AND (d.created_at, d.message_id) >= (?, ?)"
        " AND (d.created_at, d.message_id) <= (?, ?)",
        (sender_id, *low, *high),
    )


def unacknowledged_query(agent_id: int, after_id: int | None, limit: int) -> Query:
    """One page of the agent's waiting deliveries, oldest first, from
    ``deliveries_unacknowledged``."""
    where = ["d.agent_id = ?", pending_ack("d")]
    params: list[Any] = [agent_id]
    if after_id is not None:
        where.append("d.message_id > ?")
        params.append(after_id)
    return (
        f"SELECT {DELIVERY_COLUMNS} FROM {_UNACKNOWLEDGED} WHERE {' AND '.join(where)}"
        " ORDER BY d.message_id LIMIT ?",
        (*params, limit),
    )


def messages_query(ids: Sequence[int], include_bodies: bool) -> Query:
    """The messages with these ids, by primary key."""
    return (
        f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)} FROM messages m"
        f" WHERE m.id IN {_EACH}",
        (_json(ids),),
    )


def _json(values: Iterable[int | str]) -> str:
    return json.dumps(list(values))
