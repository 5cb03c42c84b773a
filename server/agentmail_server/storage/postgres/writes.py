"""Write operations on projects, agents, tokens and receipts (sends are in :mod:`.sends`).

Each is a coroutine run by :class:`~.writer.PgWriter` inside its batch transaction (under a
savepoint of its own), the PostgreSQL twin of :mod:`agentmail_server.storage.sqlite.writes`
with the same results and errors. Message ids and notice positions come from
:func:`next_position` (see :mod:`.schema` for why that keeps cursors gap-free across
processes); rows map to domain records with the SQLite backend's dialect-neutral mappers.
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from agentmail_server.domain import names
from agentmail_server.domain.drafts import Registration
from agentmail_server.domain.models import (
    Agent,
    DeliveryState,
    Project,
)
from agentmail_server.domain.notices import AckNotice, Notice, NoticeDetail, encode_detail
from agentmail_server.errors import (
    AlreadyExists,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from agentmail_server.storage.postgres.connection import Conn
from agentmail_server.storage.sqlite.rows import (
    AGENT_COLUMNS,
    AGENT_FROM,
    PROJECT_COLUMNS,
    agent_from_row,
    project_from_row,
)


async def _one(conn: Conn, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
    cursor = await conn.execute(sql.encode(), params)
    return await cursor.fetchone()


async def _all(conn: Conn, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(sql.encode(), params)
    return await cursor.fetchall()


# The highest position the writer's current transaction took, for its one NOTIFY (see
# :mod:`.writer`): a context variable, set by the writer around each transaction, so the
# operations need not thread it through every call. A rolled-back savepoint may leave it
# higher than what commits: the hint then costs one read that finds nothing.
TAKEN: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "agentmail_taken_position", default=None
)


async def next_position(conn: Conn, name: str = "mail") -> int:
    """The next message id or notice position (``name='mail'``) or agent revision, taken in
    this transaction: the ``positions`` row stays locked until it commits."""
    row = await _one(
        conn, "UPDATE positions SET value = value + 1 WHERE name = %s RETURNING value", (name,)
    )
    assert row is not None
    position = int(row[0])
    if name == "mail":
        note_position(position)
    return position


def note_position(position: int) -> None:
    """Record that this transaction took mail position ``position`` (for its NOTIFY), when a
    statement took it by itself rather than through :func:`next_position`."""
    taken = TAKEN.get()
    if taken is not None:
        taken[0] = max(taken[0], position)


async def append_notice(conn: Conn, agent_id: int, detail: NoticeDetail, now: int) -> Notice:
    """Store a notice for ``agent_id`` at the next position, in the caller's transaction."""
    position = await next_position(conn)
    tag, payload = encode_detail(detail)
    await conn.execute(
        "INSERT INTO notices (agent_id, position, created_at, type, payload)"
        " VALUES (%s, %s, %s, %s, %s)",
        (agent_id, position, now, tag, payload),
    )
    return Notice(agent_id=agent_id, position=position, created_at=now, detail=detail)


async def ensure_project(conn: Conn, human_key: str, now: int) -> tuple[Project, bool]:
    """Return the project for ``human_key``, creating it with a fresh slug if needed."""
    row = await _one(
        conn, f"SELECT {PROJECT_COLUMNS} FROM projects WHERE human_key = %s", (human_key,)
    )
    if row is not None:
        return project_from_row(row), False
    slug = names.base_slug(human_key)
    if await _slug_taken(conn, slug):
        slug = base = names.disambiguated_slug(human_key)
        suffix = 2
        while await _slug_taken(conn, slug):  # a hash collision on top of a slug collision
            slug = f"{base}-{suffix}"
            suffix += 1
    row = await _one(
        conn,
        "INSERT INTO projects (slug, human_key, created_at) VALUES (%s, %s, %s) RETURNING id",
        (slug, human_key, now),
    )
    assert row is not None
    return Project(id=int(row[0]), slug=slug, human_key=human_key, created_at=now), True


async def _slug_taken(conn: Conn, slug: str) -> bool:
    return await _one(conn, "SELECT 1 FROM projects WHERE slug = %s", (slug,)) is not None


async def register_agent(conn: Conn, reg: Registration, now: int) -> tuple[Agent, bool]:
    """Create the agent, or update it when the caller presented one of its tokens."""
    key = names.name_key(reg.name)
    existing = await _one(
        conn,
        "SELECT id FROM agents WHERE project_id = %s AND name_key = %s",
        (reg.project_id, key),
    )
    if existing is None:
        if reg.enrollment_problem is not None:
            raise reg.enrollment_problem
        revision = await next_position(conn, "agent_revision")
        row = await _one(
            conn,
            "INSERT INTO agents (project_id, name, name_key, program, model, task_description,"
            " created_at, updated_at, revision) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING id",
            (
                reg.project_id,
                reg.name,
                key,
                reg.program,
                reg.model,
                reg.task_description,
                now,
                now,
                revision,
            ),
        )
        assert row is not None
        agent_id = int(row[0])
        await add_token(conn, agent_id, reg.new_token_hash, now, None)
        return await load_agent(conn, agent_id), True
    agent_id = int(existing[0])
    if reg.presented_token_hash is None:
        raise AlreadyExists(
            "AGENT_EXISTS",
            f"agent {reg.name!r} is already registered; present its token to re-register",
            metadata={"name": reg.name},
        )
    holder = await holder_of(conn, reg.presented_token_hash, now)
    if holder != agent_id:
        if holder is None:
            raise Unauthenticated("TOKEN_INVALID", "the agent token is not valid")
        raise PermissionDenied(
            "NOT_AGENT_OWNER",
            f"the presented token does not belong to agent {reg.name!r}",
            metadata={"name": reg.name},
        )
    fields = {"program": reg.program, "model": reg.model, "task_description": reg.task_description}
    return await update_agent(conn, agent_id, fields, now), False


async def update_agent(
    conn: Conn,
    agent_id: int,
    fields: Mapping[str, str],
    now: int,
    capabilities: Sequence[str] | None = None,
) -> Agent:
    """Replace the named profile fields (program, model, task_description, status) of one
    agent, and its capabilities when given."""
    allowed = ("program", "model", "task_description", "status")
    assignments = [f"{name} = %s" for name in allowed if name in fields]
    values: list[object] = [fields[name] for name in allowed if name in fields]
    if capabilities is not None:
        assignments.append("capabilities = %s")
        values.append(",".join(capabilities))
        await conn.execute("DELETE FROM agent_capabilities WHERE agent_id = %s", (agent_id,))
        for capability in dict.fromkeys(names.name_key(c) for c in capabilities):
            await conn.execute(
                "INSERT INTO agent_capabilities (project_id, capability_key, agent_id)"
                " SELECT project_id, %s, id FROM agents WHERE id = %s ON CONFLICT DO NOTHING",
                (capability, agent_id),
            )
    revision = await next_position(conn, "agent_revision")
    await conn.execute(
        f"UPDATE agents SET {', '.join([*assignments, 'updated_at = %s'])},"
        " revision = %s WHERE id = %s".encode(),
        (*values, now, revision, agent_id),
    )
    return await load_agent(conn, agent_id)


async def load_agent(conn: Conn, agent_id: int) -> Agent:
    """The agent with this id, as stored now."""
    row = await _one(conn, f"SELECT {AGENT_COLUMNS} FROM {AGENT_FROM} WHERE a.id = %s", (agent_id,))
    assert row is not None
    return agent_from_row(row)


async def add_token(
    conn: Conn, agent_id: int, token_hash: str, now: int, expires_at: int | None
) -> None:
    """Give the agent one more token (by hash)."""
    await conn.execute(
        "INSERT INTO agent_tokens (agent_id, token_hash, created_at, expires_at)"
        " VALUES (%s, %s, %s, %s)",
        (agent_id, token_hash, now, expires_at),
    )


async def holder_of(conn: Conn, token_hash: str, now: int) -> int | None:
    """The agent holding the unexpired token with this hash, if any."""
    row = await _one(
        conn, "SELECT agent_id, expires_at FROM agent_tokens WHERE token_hash = %s", (token_hash,)
    )
    if row is None or (row[1] is not None and int(row[1]) <= now):
        return None
    return int(row[0])


async def rotate_token(
    conn: Conn, agent_id: int, new_hash: str, now: int, overlap_micros: int
) -> None:
    """Give the agent a new token; its others expire after ``overlap_micros`` (at once when
    0; an earlier expiry is kept). Expired tokens of the agent are deleted here."""
    await conn.execute(
        "DELETE FROM agent_tokens WHERE agent_id = %s AND expires_at IS NOT NULL"
        " AND expires_at <= %s",
        (agent_id, now),
    )
    if overlap_micros <= 0:
        await conn.execute("DELETE FROM agent_tokens WHERE agent_id = %s", (agent_id,))
    else:
        until = now + overlap_micros
        await conn.execute(
            "UPDATE agent_tokens SET expires_at = least(coalesce(expires_at, %s), %s)"
            " WHERE agent_id = %s",
            (until, until, agent_id),
        )
    await add_token(conn, agent_id, new_hash, now, None)


async def revoke_tokens(conn: Conn, agent_id: int, now: int, replacement_hash: str | None) -> int:
    """Delete every token of the agent, then give it ``replacement_hash`` if any."""
    cursor = await conn.execute("DELETE FROM agent_tokens WHERE agent_id = %s", (agent_id,))
    revoked = cursor.rowcount
    if replacement_hash is not None:
        await add_token(conn, agent_id, replacement_hash, now, None)
    return revoked


@dataclasses.dataclass(frozen=True, slots=True)
class Marked:
    """What :func:`mark_deliveries` set, and the notices it left for senders."""

    states: list[DeliveryState]
    notices: list[Notice]


async def mark_deliveries(
    conn: Conn, agent_id: int, message_ids: Sequence[int], now: int, *, acknowledge: bool
) -> Marked:
    """Set first-wins read (and ack) times on the caller's deliveries; all or nothing.

    Each new acknowledgement leaves an :class:`AckNotice` for the message's sender, unless the
    caller acknowledges its own message.
    """
    ids = list(message_ids)
    acked_before = {
        int(row[0]): row[1]
        for row in await _all(
            conn,
            "SELECT message_id, ack_at FROM deliveries WHERE agent_id = %s"
            " AND message_id = ANY(%s) FOR UPDATE",
            (agent_id, ids),
        )
    }
    missing = [mid for mid in ids if mid not in acked_before]
    if missing:
        shown = ",".join(str(mid) for mid in missing)
        raise NotFound(
            "MESSAGE_NOT_FOUND",
            f"no message with id {shown} in this agent's inbox",
            metadata={"messageIds": shown},
        )
    ack_clause = ", ack_at = coalesce(ack_at, %s)" if acknowledge else ""
    params: tuple[int, ...] = (now, now) if acknowledge else (now,)
    rows = await _all(
        conn,
        f"UPDATE deliveries SET read_at = coalesce(read_at, %s){ack_clause}"
        " WHERE agent_id = %s AND message_id = ANY(%s) RETURNING message_id, read_at, ack_at",
        (*params, agent_id, ids),
    )
    states = {int(r[0]): DeliveryState(int(r[0]), _opt_int(r[1]), _opt_int(r[2])) for r in rows}
    newly_acked = [mid for mid in dict.fromkeys(ids) if acknowledge and not acked_before[mid]]
    notices = await _ack_notices(conn, agent_id, newly_acked, now) if newly_acked else []
    return Marked([states[mid] for mid in ids], notices)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


async def _ack_notices(
    conn: Conn, agent_id: int, message_ids: Sequence[int], now: int
) -> list[Notice]:
    """One :class:`AckNotice` per newly acknowledged message, for its sender."""
    row = await _one(conn, "SELECT name FROM agents WHERE id = %s", (agent_id,))
    assert row is not None
    by_agent = str(row[0])
    rows = await _all(
        conn,
        "SELECT id, sender_id, subject FROM messages WHERE id = ANY(%s) ORDER BY id",
        (list(message_ids),),
    )
    return [
        await append_notice(
            conn, int(sender_id), AckNotice(int(mid), str(subject), by_agent, now), now
        )
        for mid, sender_id, subject in rows
        if sender_id != agent_id
    ]
