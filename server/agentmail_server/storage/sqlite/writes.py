"""Write operations. Each runs on the writer thread inside the batch transaction.

They are plain functions of a ``sqlite3.Connection``; :mod:`.backend` binds their arguments with
``functools.partial`` and hands them to :meth:`Writer.submit`. A constant number of statements
per operation: recipients and id lists go through ``executemany`` or one ``IN (...)``.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from agentmail_server.domain import names
from agentmail_server.domain.contacts import Skipped
from agentmail_server.domain.drafts import Draft, Registration, Sent
from agentmail_server.domain.limits import IDEMPOTENCY_WINDOW_MICROS
from agentmail_server.domain.models import (
    Agent,
    DeliveryState,
    Message,
    Project,
    Recipient,
    RecipientKind,
)
from agentmail_server.domain.notices import AckNotice, Notice
from agentmail_server.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from agentmail_server.storage.sqlite import policy, tokens
from agentmail_server.storage.sqlite.notices import NEXT_POSITION, append_notice
from agentmail_server.storage.sqlite.rows import (
    AGENT_COLUMNS,
    AGENT_FROM,
    MESSAGE_COLUMNS,
    PROJECT_COLUMNS,
    agent_from_row,
    join_names,
    message_from_row,
    project_from_row,
)


def ensure_project(conn: sqlite3.Connection, human_key: str, now: int) -> tuple[Project, bool]:
    """Return the project for ``human_key``, creating it with a fresh slug if needed."""
    row = conn.execute(
        f"SELECT {PROJECT_COLUMNS} FROM projects WHERE human_key = ?", (human_key,)
    ).fetchone()
    if row is not None:
        return project_from_row(row), False
    slug = names.base_slug(human_key)
    if _slug_taken(conn, slug):
        slug = names.disambiguated_slug(human_key)
        suffix = 2
        base = slug
        while _slug_taken(conn, slug):  # a hash collision on top of a slug collision
            slug = f"{base}-{suffix}"
            suffix += 1
    cursor = conn.execute(
        "INSERT INTO projects (slug, human_key, created_at) VALUES (?, ?, ?)",
        (slug, human_key, now),
    )
    assert cursor.lastrowid is not None
    return Project(id=cursor.lastrowid, slug=slug, human_key=human_key, created_at=now), True


def _slug_taken(conn: sqlite3.Connection, slug: str) -> bool:
    return conn.execute("SELECT 1 FROM projects WHERE slug = ?", (slug,)).fetchone() is not None


# Every registration and profile change takes the next agent revision (one index seek), so the
# archive can follow agent changes in commit order (see storage.schema).
_NEXT_REVISION = "(SELECT coalesce(max(revision), 0) + 1 FROM agents)"


def register_agent(conn: sqlite3.Connection, reg: Registration, now: int) -> tuple[Agent, bool]:
    """Create the agent, or update it when the caller presented one of its tokens."""
    key = names.name_key(reg.name)
    existing = conn.execute(
        "SELECT id FROM agents WHERE project_id = ? AND name_key = ?",
        (reg.project_id, key),
    ).fetchone()
    if existing is None:
        if reg.enrollment_problem is not None:
            # Checked again here, in the transaction: the name may have gone since the
            # service looked, and creating is what the enrollment secret guards.
            raise reg.enrollment_problem
        cursor = conn.execute(
            "INSERT INTO agents (project_id, name, name_key, program, model, task_description,"
            " token_hash, created_at, updated_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
            f" {_NEXT_REVISION})",
            (
                reg.project_id,
                reg.name,
                key,
                reg.program,
                reg.model,
                reg.task_description,
                reg.new_token_hash,
                now,
                now,
            ),
        )
        assert cursor.lastrowid is not None
        tokens.add_token(conn, cursor.lastrowid, reg.new_token_hash, now, None)
        return _load_agent(conn, cursor.lastrowid), True
    agent_id = int(existing[0])
    if reg.presented_token_hash is None:
        raise AlreadyExists(
            "AGENT_EXISTS",
            f"agent {reg.name!r} is already registered; present its token to re-register",
            metadata={"name": reg.name},
        )
    holder = tokens.holder_of(conn, reg.presented_token_hash, now)
    if holder != agent_id:
        if holder is None:
            raise Unauthenticated("TOKEN_INVALID", "the agent token is not valid")
        raise PermissionDenied(
            "NOT_AGENT_OWNER",
            f"the presented token does not belong to agent {reg.name!r}",
            metadata={"name": reg.name},
        )
    fields = {"program": reg.program, "model": reg.model, "task_description": reg.task_description}
    return update_agent(conn, agent_id, fields, now), False


def update_agent(
    conn: sqlite3.Connection,
    agent_id: int,
    fields: Mapping[str, str],
    now: int,
    capabilities: Sequence[str] | None = None,
) -> Agent:
    """Replace the named profile fields (program, model, task_description, status) of one
    agent, and its capabilities when given."""
    allowed = ("program", "model", "task_description", "status")
    assignments = [f"{name} = ?" for name in allowed if name in fields]
    values = [fields[name] for name in allowed if name in fields]
    if capabilities is not None:
        assignments.append("capabilities = ?")
        values.append(",".join(capabilities))
        _replace_capabilities(conn, agent_id, capabilities)
    conn.execute(
        f"UPDATE agents SET {', '.join([*assignments, 'updated_at = ?'])},"
        f" revision = {_NEXT_REVISION} WHERE id = ?",
        (*values, now, agent_id),
    )
    return _load_agent(conn, agent_id)


def _replace_capabilities(
    conn: sqlite3.Connection, agent_id: int, capabilities: Sequence[str]
) -> None:
    """Re-key the agent's rows of ``agent_capabilities`` (the ListAgents filter's index)."""
    conn.execute("DELETE FROM agent_capabilities WHERE agent_id = ?", (agent_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO agent_capabilities (project_id, capability_key, agent_id)"
        " SELECT project_id, ?, id FROM agents WHERE id = ?",
        [(names.name_key(c), agent_id) for c in capabilities],
    )


def load_agent(conn: sqlite3.Connection, agent_id: int) -> Agent:
    """The agent with this id, as stored now."""
    return _load_agent(conn, agent_id)


def _load_agent(conn: sqlite3.Connection, agent_id: int) -> Agent:
    row = conn.execute(
        f"SELECT {AGENT_COLUMNS} FROM {AGENT_FROM} WHERE a.id = ?", (agent_id,)
    ).fetchone()
    return agent_from_row(row)


# What admitting a draft decided, by everything the decision reads from the draft and the time:
# kept for the length of one bulk operation only (see bulk_writes.insert_messages).
VerdictKey = tuple[Any, ...]
Verdicts = dict[VerdictKey, tuple[tuple[Recipient, ...], tuple[Skipped, ...]]]


def insert_message(
    conn: sqlite3.Connection,
    draft: Draft,
    now: int,
    message_id: int | None = None,
    verdicts: Verdicts | None = None,
) -> Sent:
    """Store a message and its deliveries, or return the original for a repeated key.

    ``message_id`` is the id to use when the caller already knows the next one (a bulk
    insert takes it once and counts up); None reads it here. ``verdicts`` is a bulk insert's
    memo of contact-policy decisions (see :func:`.bulk_writes.insert_messages`).

    Each recipient's contact policy is checked first, in this transaction (see
    :mod:`.policy`): a refusal fails the whole send, or leaves the agent out of a broadcast.

    Raises:
        PermissionDenied: a recipient refuses (CONTACT_REQUIRED, CONTACT_BLOCKED,
            AGENT_RETIRED); nothing is stored.
        FailedPrecondition: NO_BROADCAST_RECIPIENTS, every agent a broadcast addressed was
            skipped; IDEMPOTENCY_KEY_REUSED.
    """
    if draft.idempotency_key:
        original = _find_idempotent(conn, draft, now)
        if original is not None:
            return original
    recipients = draft.recipients
    skipped: tuple[Skipped, ...] = ()
    if draft.rules is not None:
        key = _verdict_key(draft, now) if verdicts is not None else None
        known = verdicts.get(key) if verdicts is not None and key is not None else None
        if known is not None:
            recipients, skipped = known
        else:
            recipients, skipped = policy.admit(conn, draft, draft.rules, now)
            if verdicts is not None and key is not None:
                verdicts[key] = (recipients, skipped)
        if not recipients:
            listed = ",".join(f"{s.name}:{s.reason}" for s in skipped)
            raise FailedPrecondition(
                "NO_BROADCAST_RECIPIENTS",
                f"every agent this broadcast addressed was skipped ({listed})",
                metadata={"skipped": listed},
            )
        policy.record_exchanges(conn, draft.sender_id, recipients, now)
    # The single writer assigns ids inside its transaction, so ids grow in commit order; past
    # the highest id retention ever purged too, so a purged id is never handed out again.
    if message_id is None:
        (message_id,) = conn.execute(NEXT_POSITION).fetchone()
    thread_id = draft.thread_id or str(message_id)
    by_kind: dict[RecipientKind, list[str]] = {kind: [] for kind in RecipientKind}
    for recipient in recipients:
        by_kind[recipient.kind].append(recipient.name)
    body_size = len(draft.body.encode())
    conn.execute(
        "INSERT INTO messages (id, project_id, sender_id, sender_name, thread_id, subject,"
        " importance, ack_required, topic, to_names, cc_names, bcc_names, created_at,"
        " body_size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            draft.project_id,
            draft.sender_id,
            draft.sender_name,
            thread_id,
            draft.subject,
            int(draft.importance),
            int(draft.ack_required),
            draft.topic,
            join_names(by_kind[RecipientKind.TO]),
            join_names(by_kind[RecipientKind.CC]),
            join_names(by_kind[RecipientKind.BCC]),
            now,
            body_size,
            draft.body,
        ),
    )
    # ack_required, sender_id and created_at are the message's, copied for the ack-tracking
    # indexes (see schema version 9).
    conn.executemany(
        "INSERT INTO deliveries (agent_id, message_id, kind, importance, topic, ack_required,"
        " sender_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.agent_id,
                message_id,
                int(r.kind),
                int(draft.importance),
                draft.topic,
                int(draft.ack_required),
                draft.sender_id,
                now,
            )
            for r in recipients
        ],
    )
    if draft.idempotency_key:
        conn.execute(
            "INSERT OR REPLACE INTO idempotency_keys"
            " (sender_id, key, message_id, created_at, digest) VALUES (?, ?, ?, ?, ?)",
            (draft.sender_id, draft.idempotency_key, message_id, now, draft.idempotency_digest),
        )
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


def _verdict_key(draft: Draft, now: int) -> VerdictKey:
    """Everything :func:`policy.admit` reads from the draft, and the time it judges at."""
    return (
        draft.project_id,
        draft.sender_id,
        draft.recipients,
        draft.thread_id,
        draft.broadcast,
        draft.recent_activity,
        draft.rules,
        now,
    )


def _find_idempotent(conn: sqlite3.Connection, draft: Draft, now: int) -> Sent | None:
    """The original of a repeated key within the window, or None when the key is free.

    Raises:
        FailedPrecondition: IDEMPOTENCY_KEY_REUSED when the key was used for other content.
    """
    row = conn.execute(
        "SELECT message_id, created_at, digest FROM idempotency_keys"
        " WHERE sender_id = ? AND key = ?",
        (draft.sender_id, draft.idempotency_key),
    ).fetchone()
    if row is None or row[1] < now - IDEMPOTENCY_WINDOW_MICROS:
        return None  # unknown or expired: the send goes ahead and takes over the key
    # A NULL digest is a key stored before schema version 5: its content is unknown.
    if row[2] is not None and row[2] != draft.idempotency_digest:
        raise FailedPrecondition(
            "IDEMPOTENCY_KEY_REUSED",
            f"idempotency key {draft.idempotency_key!r} was reused with different content:"
            f" within 24 hours it stays bound to message {row[0]}; resend that exact request"
            " to get the message back, or use a new key for new content",
            metadata={"messageId": str(row[0])},
        )
    message_row = conn.execute(
        f"SELECT {MESSAGE_COLUMNS}, m.body FROM messages m WHERE m.id = ?", (row[0],)
    ).fetchone()
    if message_row is None:
        return None  # purged by retention (its key goes with it): the send goes ahead
    return Sent(message=message_from_row(message_row), recipients=(), deduplicated=True)


def mark_deliveries(
    conn: sqlite3.Connection,
    agent_id: int,
    message_ids: Sequence[int],
    now: int,
    *,
    acknowledge: bool,
) -> Marked:
    """Set first-wins read (and ack) times on the caller's deliveries; all or nothing.

    Each acknowledgement that is new (not a repeat) leaves an :class:`AckNotice` for the
    message's sender, unless the caller acknowledges its own message.
    """
    marks = ",".join("?" * len(message_ids))
    acked_before = {
        row[0]: row[1]
        for row in conn.execute(
            f"SELECT message_id, ack_at FROM deliveries WHERE agent_id = ?"
            f" AND message_id IN ({marks})",
            (agent_id, *message_ids),
        )
    }
    found = acked_before.keys()
    missing = [mid for mid in message_ids if mid not in found]
    if missing:
        shown = ",".join(str(mid) for mid in missing)
        raise NotFound(
            "MESSAGE_NOT_FOUND",
            f"no message with id {shown} in this agent's inbox",
            metadata={"messageIds": shown},
        )
    ack_clause = ", ack_at = coalesce(ack_at, ?)" if acknowledge else ""
    params: tuple[int, ...] = (now, now) if acknowledge else (now,)
    conn.execute(
        f"UPDATE deliveries SET read_at = coalesce(read_at, ?){ack_clause}"
        f" WHERE agent_id = ? AND message_id IN ({marks})",
        (*params, agent_id, *message_ids),
    )
    rows = conn.execute(
        "SELECT message_id, read_at, ack_at FROM deliveries"
        f" WHERE agent_id = ? AND message_id IN ({marks})",
        (agent_id, *message_ids),
    ).fetchall()
    states = {row[0]: DeliveryState(row[0], row[1], row[2]) for row in rows}
    ordered = [states[mid] for mid in message_ids]
    newly_acked = [
        mid for mid in dict.fromkeys(message_ids) if acknowledge and not acked_before[mid]
    ]
    notices = _ack_notices(conn, agent_id, newly_acked, now) if newly_acked else []
    return Marked(ordered, notices)


@dataclasses.dataclass(frozen=True, slots=True)
class Marked:
    """What :func:`mark_deliveries` set, and the notices it left for senders."""

    states: list[DeliveryState]
    notices: list[Notice]


def _ack_notices(
    conn: sqlite3.Connection, agent_id: int, message_ids: Sequence[int], now: int
) -> list[Notice]:
    """One :class:`AckNotice` per newly acknowledged message, for its sender."""
    (by_agent,) = conn.execute("SELECT name FROM agents WHERE id = ?", (agent_id,)).fetchone()
    marks = ",".join("?" * len(message_ids))
    rows = conn.execute(
        f"SELECT id, sender_id, subject FROM messages WHERE id IN ({marks}) ORDER BY id",
        tuple(message_ids),
    ).fetchall()
    return [
        append_notice(conn, sender_id, AckNotice(message_id, subject, by_agent, now), now)
        for message_id, sender_id, subject in rows
        if sender_id != agent_id
    ]
