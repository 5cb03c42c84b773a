"""Receipt and acknowledgement reads on PostgreSQL: the
:class:`~agentmail_server.storage.ports.ReceiptReads` of this backend.

A sender's receipts seek ``deliveries_by_message``; pending acknowledgements (sender side) and
unacknowledged mail (recipient side) seek the two partial indexes over the deliveries still
waiting (``ack_required AND ack_at IS NULL``), as on SQLite. Each listing's statements run in
one REPEATABLE READ transaction, so an acknowledgement committed in between never leaves a page
inconsistent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from agentmail_server.domain.models import InboxItem, Message, RecipientKind
from agentmail_server.domain.receipts import PendingAck, Receipt, in_address_order
from agentmail_server.storage.ports import AckPosition
from agentmail_server.storage.postgres.readers import Fetch, ReadPool
from agentmail_server.storage.postgres.rows import message_from_row
from agentmail_server.storage.sqlite.rows import (
    DELIVERY_COLUMNS,
    MESSAGE_COLUMNS,
    body_column,
    delivery_from_row,
)

_WAITING = "d.ack_required AND d.ack_at IS NULL"


class PgReceipts:
    """Receipts and acknowledgement tracking on the read pool."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def receipts(
        self, sender_id: int, messages: Sequence[Message]
    ) -> dict[int, tuple[Receipt, ...]]:
        """Every recipient's receipt of each of ``messages`` that ``sender_id`` sent."""
        own = [m for m in messages if m.sender_id == sender_id]
        if not own:
            return {}
        rows = await self._pool.fetchall(
            "SELECT d.message_id, a.name, d.kind, d.read_at, d.ack_at"
            " FROM deliveries d JOIN agents a ON a.id = d.agent_id"
            " WHERE d.message_id = ANY(%s)",
            ([m.id for m in own],),
        )
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
        where = ["d.sender_id = %s", _WAITING]
        params: list[Any] = [sender_id]
        if sent_before is not None:
            where.append("d.created_at <= %s")
            params.append(sent_before)
        if after is not None:
            where.append("(d.created_at, d.message_id) > (%s, %s)")
            params.extend(after)
        if before is not None:
            where.append("(d.created_at, d.message_id) < (%s, %s)")
            params.extend(before)
        order = "DESC" if newest_first else "ASC"
        async with self._pool.snapshot() as fetch:
            page = await fetch(
                f"SELECT DISTINCT d.created_at, d.message_id FROM deliveries d"
                f" WHERE {' AND '.join(where)}"
                f" ORDER BY d.created_at {order}, d.message_id {order} LIMIT %s",
                (*params, limit),
            )
            if not page:
                return []
            ids = [row[1] for row in page]
            rows = await fetch(
                "SELECT d.message_id, a.name, d.kind, d.read_at, d.created_at"
                f" FROM deliveries d JOIN agents a ON a.id = d.agent_id"
                f" WHERE d.sender_id = %s AND {_WAITING} AND d.message_id = ANY(%s)",
                (sender_id, ids),
            )
            messages = await _messages(fetch, ids, include_bodies)
        waiting: dict[int, list[Receipt]] = defaultdict(list)
        for message_id, name, kind, read_at, created_at in rows:
            waiting[message_id].append(
                Receipt(name, RecipientKind(kind), created_at, read_at, ack_at=None)
            )
        return [
            PendingAck(messages[mid], in_address_order(messages[mid], waiting[mid])) for mid in ids
        ]

    async def unacknowledged(
        self, agent_id: int, after_id: int | None, limit: int, include_bodies: bool
    ) -> list[InboxItem]:
        """The agent's unacknowledged ack-required mail, oldest first, after ``after_id``."""
        where = ["d.agent_id = %s", _WAITING]
        params: list[Any] = [agent_id]
        if after_id is not None:
            where.append("d.message_id > %s")
            params.append(after_id)
        async with self._pool.snapshot() as fetch:
            rows = await fetch(
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE {' AND '.join(where)}"
                " ORDER BY d.message_id LIMIT %s",
                (*params, limit),
            )
            deliveries = [delivery_from_row(row) for row in rows]
            messages = await _messages(fetch, [d.message_id for d in deliveries], include_bodies)
        return [InboxItem(messages[d.message_id], d) for d in deliveries]


async def _messages(fetch: Fetch, ids: list[int], include_bodies: bool) -> dict[int, Message]:
    if not ids:
        return {}
    rows = await fetch(
        f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)} FROM messages m"
        " WHERE m.id = ANY(%s)",
        (ids,),
    )
    return {row[0]: message_from_row(row) for row in rows}
