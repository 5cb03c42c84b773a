"""Sends: storing messages with their deliveries and idempotency keys, one at a time or
several in one write operation (SendMessages).

The PostgreSQL twin of the send half of :mod:`agentmail_server.storage.sqlite.writes`, with
the same results and errors; each function runs inside a :class:`~.writer.PgWriter` operation.
A send is stored by one statement (:data:`_STORE`) after its checks: it takes the message id
from the ``positions`` row (as :func:`~.writes.next_position` does), inserts the message, its
deliveries, its idempotency key and the contact exchanges it makes, and returns the id. The
row is locked for as short a time as possible (from that statement to the commit), an item that
fails its checks takes no id, and a send in a group commit costs its checks' pipeline, that one
statement and its savepoint: each statement costs this process a few tens of microseconds of
CPU (measured with ``bench/pg_group_commit.py``), more than a round trip to a local server.
Every sub-statement reads the new id from ``message``, so the position is taken before any
contact-exchange row is locked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentmail_server.domain.contacts import Skipped
from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.limits import IDEMPOTENCY_WINDOW_MICROS
from agentmail_server.domain.models import Message, Recipient, RecipientKind
from agentmail_server.errors import AgentmailError, FailedPrecondition
from agentmail_server.storage.postgres import fulltext, policy
from agentmail_server.storage.postgres.connection import Conn
from agentmail_server.storage.postgres.rows import escape_body, message_from_row
from agentmail_server.storage.postgres.writes import note_position
from agentmail_server.storage.sqlite.rows import MESSAGE_COLUMNS, join_names


async def _one(conn: Conn, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
    cursor = await conn.execute(sql.encode(), params)
    return await cursor.fetchone()


async def insert_message(conn: Conn, draft: Draft, now: int) -> Sent:
    """Store a message and its deliveries, or return the original for a repeated key.

    Raises:
        PermissionDenied: a recipient refuses (CONTACT_REQUIRED, CONTACT_BLOCKED,
            AGENT_RETIRED); nothing is stored.
        FailedPrecondition: NO_BROADCAST_RECIPIENTS; IDEMPOTENCY_KEY_REUSED.
    """
    if draft.idempotency_key:
        # Serialises two sends of one key from different processes (until commit).
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))",
            (draft.idempotency_key, draft.sender_id),
        )
        original = await _find_idempotent(conn, draft, now)
        if original is not None:
            return original
    recipients = draft.recipients
    skipped: tuple[Skipped, ...] = ()
    if draft.rules is not None:
        recipients, skipped = await policy.admit(conn, draft, draft.rules, now)
        if not recipients:
            listed = ",".join(f"{s.name}:{s.reason}" for s in skipped)
            raise FailedPrecondition(
                "NO_BROADCAST_RECIPIENTS",
                f"every agent this broadcast addressed was skipped ({listed})",
                metadata={"skipped": listed},
            )
    by_kind: dict[RecipientKind, list[str]] = {kind: [] for kind in RecipientKind}
    for recipient in recipients:
        by_kind[recipient.kind].append(recipient.name)
    body_size = len(draft.body.encode())
    # Last, after every check: the positions row stays locked from here to the commit.
    message_id = await _store(conn, draft, recipients, by_kind, body_size, now)
    thread_id = draft.thread_id or str(message_id)
    message = Message(
        id=message_id,
        project_id=draft.project_id,
        sender_id=draft.sender_id,
        sender_name=draft.sender_name,
        thread_id=thread_id,
        subject=draft.subject,
        body=draft.body,
        body_size=body_size,
        importance=draft.importance,
        ack_required=draft.ack_required,
        topic=draft.topic,
        to=tuple(by_kind[RecipientKind.TO]),
        cc=tuple(by_kind[RecipientKind.CC]),
        bcc=tuple(by_kind[RecipientKind.BCC]),
        created_at=now,
    )
    return Sent(message=message, recipients=recipients, deduplicated=False, skipped=skipped)


async def insert_messages(
    conn: Conn, drafts: Sequence[Draft], now: int
) -> list[Sent | AgentmailError]:
    """Store each draft as :func:`insert_message` would, each under a SAVEPOINT of its own, so
    a draft that fails is rolled back alone (its id too: the ``positions`` update goes with
    it, so ids stay gap-free) and its error returned in its place.

    Errors of the database itself (a lost connection, a unique-key race with another server)
    are not an item's: they propagate and fail the whole operation, as for any write.
    """
    outcomes: list[Sent | AgentmailError] = []
    for draft in drafts:
        try:
            async with conn.transaction():  # a savepoint inside the operation's transaction
                outcomes.append(await insert_message(conn, draft, now))
        except AgentmailError as exc:
            outcomes.append(exc)
    return outcomes


# The send's one statement (see the module docstring). The exchange pairs are empty for mail
# the server composes itself (no contact rules), the key columns NULL for a send without one.
_STORE = b"""
WITH position AS (
    UPDATE positions SET value = value + 1 WHERE name = 'mail' RETURNING value
), message AS (
    INSERT INTO messages (id, project_id, sender_id, sender_name, thread_id, subject, importance,
        ack_required, topic, to_names, cc_names, bcc_names, created_at, body_size, body, search)
    SELECT value, %(project)s, %(sender)s, %(sender_name)s,
        coalesce(nullif(%(thread)s, ''), value::text), %(subject)s, %(importance)s,
        %(ack_required)s, %(topic)s, %(to)s, %(cc)s, %(bcc)s, %(now)s, %(body_size)s, %(body)s,
        setweight(to_tsvector('simple', %(subject_folded)s), 'A')
            || setweight(to_tsvector('simple', %(body_folded)s), 'B')
    FROM position
    RETURNING id
), delivered AS (
    INSERT INTO deliveries (agent_id, message_id, kind, importance, topic, ack_required,
        sender_id, created_at)
    SELECT r.agent_id, message.id, r.kind, %(importance)s, %(topic)s, %(ack_required)s,
        %(sender)s, %(now)s
    FROM message, unnest(%(agents)s::bigint[], %(kinds)s::int[]) AS r(agent_id, kind)
), keyed AS (
    INSERT INTO idempotency_keys (sender_id, key, message_id, created_at, digest)
    SELECT %(sender)s, %(key)s, message.id, %(now)s, %(digest)s FROM message
    WHERE %(key)s::text IS NOT NULL
    ON CONFLICT (sender_id, key) DO UPDATE SET message_id = excluded.message_id,
        created_at = excluded.created_at, digest = excluded.digest
), exchanged AS (
    INSERT INTO contact_exchanges (agent_low, agent_high, last_at)
    SELECT p.low, p.high, %(now)s
    FROM message, unnest(%(lows)s::bigint[], %(highs)s::bigint[]) AS p(low, high)
    ON CONFLICT (agent_low, agent_high) DO UPDATE
    SET last_at = greatest(contact_exchanges.last_at, excluded.last_at)
)
SELECT id FROM message
"""


async def _store(
    conn: Conn,
    draft: Draft,
    recipients: Sequence[Recipient],
    by_kind: Mapping[RecipientKind, list[str]],
    body_size: int,
    now: int,
) -> int:
    """Take the next message id and insert the message, its deliveries, its idempotency key
    and (for a send judged by contact rules) its contact exchanges; the id."""
    pairs = policy.exchange_pairs(draft.sender_id, recipients) if draft.rules else []
    cursor = await conn.execute(
        _STORE,
        {
            "project": draft.project_id,
            "sender": draft.sender_id,
            "sender_name": draft.sender_name,
            "thread": draft.thread_id,
            "subject": draft.subject,
            "importance": int(draft.importance),
            "ack_required": draft.ack_required,
            "topic": draft.topic,
            "to": join_names(by_kind[RecipientKind.TO]),
            "cc": join_names(by_kind[RecipientKind.CC]),
            "bcc": join_names(by_kind[RecipientKind.BCC]),
            "now": now,
            "body_size": body_size,
            "body": escape_body(draft.body),
            "subject_folded": fulltext.fold(draft.subject),
            "body_folded": fulltext.fold(draft.body),
            "agents": [r.agent_id for r in recipients],
            "kinds": [int(r.kind) for r in recipients],
            "key": draft.idempotency_key or None,
            "digest": draft.idempotency_digest,
            "lows": [low for low, _ in pairs],
            "highs": [high for _, high in pairs],
        },
    )
    row = await cursor.fetchone()
    assert row is not None  # the positions row always exists
    message_id = int(row[0])
    note_position(message_id)
    return message_id


async def _find_idempotent(conn: Conn, draft: Draft, now: int) -> Sent | None:
    """The original of a repeated key within the window, or None when the key is free.

    Raises:
        FailedPrecondition: IDEMPOTENCY_KEY_REUSED when the key was used for other content.
    """
    row = await _one(
        conn,
        "SELECT message_id, created_at, digest FROM idempotency_keys"
        " WHERE sender_id = %s AND key = %s",
        (draft.sender_id, draft.idempotency_key),
    )
    if row is None or int(row[1]) < now - IDEMPOTENCY_WINDOW_MICROS:
        return None  # unknown or expired: the send goes ahead and takes over the key
    if row[2] is not None and row[2] != draft.idempotency_digest:
        raise FailedPrecondition(
            "IDEMPOTENCY_KEY_REUSED",
            f"idempotency key {draft.idempotency_key!r} was reused with different content:"
            f" within 24 hours it stays bound to message {row[0]}; resend that exact request"
            " to get the message back, or use a new key for new content",
            metadata={"messageId": str(row[0])},
        )
    message_row = await _one(
        conn, f"SELECT {MESSAGE_COLUMNS}, m.body FROM messages m WHERE m.id = %s", (row[0],)
    )
    if message_row is None:
        return None
    return Sent(message=message_from_row(message_row), recipients=(), deduplicated=True)
