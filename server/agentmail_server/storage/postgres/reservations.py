"""Reservation write operations on PostgreSQL: the twin of
:mod:`agentmail_server.storage.sqlite.reservations`, with the same results, errors and events.

Each runs inside :class:`~.writer.PgWriter`'s batch transaction. On SQLite the single writer
makes a ReservePaths' conflict check and grant atomic; here several processes write, so every
reservation write first takes ``pg_advisory_xact_lock`` on its project (held to commit): of two
agents racing in different processes for the same file exclusively, the second one's check sees
the first one's grant, and exactly one wins. Revisions (which the archive follows) come from the
locked ``positions`` row ``reservation_revision``, so they are unique and in commit order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.limits import IDEMPOTENCY_WINDOW_MICROS
from agentmail_server.domain.notices import Notice, ReservationNoticeKind
from agentmail_server.domain.reservation_selection import selected_by_ids
from agentmail_server.domain.reservations import (
    EXPIRED_REASON,
    Conflict,
    Hold,
    Reservation,
    Reserved,
    ReserveMode,
    ReserveRequest,
    Selection,
    find_conflicts,
    groups_to_load,
    holder,
    notice,
    stored_group,
)
from agentmail_server.errors import FailedPrecondition
from agentmail_server.storage.postgres.connection import Conn
from agentmail_server.storage.postgres.sends import insert_message
from agentmail_server.storage.postgres.writes import append_notice, next_position
from agentmail_server.storage.sqlite.reservation_rows import result_json, stored_result
from agentmail_server.storage.sqlite.reservations import MAX_RESERVE_HOLDERS
from agentmail_server.storage.sqlite.rows import (
    HOLD_COLUMNS,
    RESERVATION_COLUMNS,
    RESERVATION_FROM,
    hold_from_row,
    reservation_from_row,
)

# Keeps project locks apart from the migration lock and any other advisory lock.
_LOCK_SPACE = 0x414D5253  # "AMRS"


async def _all(conn: Conn, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(sql.encode(), params)
    return await cursor.fetchall()


async def _lock_project(conn: Conn, project_id: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_SPACE, project_id))


async def _revision(conn: Conn) -> int:
    return await next_position(conn, "reservation_revision")


async def load(conn: Conn, ids: list[int]) -> list[Reservation]:
    """The reservations with these ids, in the order given (missing ones left out)."""
    if not ids:
        return []
    rows = await _all(
        conn, f"SELECT {RESERVATION_COLUMNS} FROM {RESERVATION_FROM} WHERE r.id = ANY(%s)", (ids,)
    )
    by_id = {row[0]: reservation_from_row(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def _active(
    conn: Conn, project_id: int, now: int, groups: Sequence[str] | None
) -> list[Hold]:
    """The project's active holds; only those of the stored ``groups`` unless it is None."""
    where = "r.project_id = %s AND r.released_at IS NULL AND r.expires_at > %s"
    params: list[object] = [project_id, now]
    if groups is not None:
        where += " AND r.pattern_group = ANY(%s)"
        params.append(list(groups))
    rows = await _all(conn, f"SELECT {HOLD_COLUMNS} FROM {RESERVATION_FROM} WHERE {where}", params)
    return [hold_from_row(row) for row in rows]


async def reserve(conn: Conn, request: ReserveRequest, now: int) -> Reserved:
    """Check conflicts and grant in one step, under the project's lock."""
    await _lock_project(conn, request.project_id)
    if request.idempotency_key:
        repeated = await _repeated(conn, request, now)
        if repeated is not None:
            return repeated
    active = await _active(conn, request.project_id, now, groups_to_load(request.patterns))
    found = find_conflicts(request.patterns, request.exclusive, request.agent_id, active)
    if request.mode is ReserveMode.ADVISORY:
        to_grant = list(request.patterns)
    elif request.mode is ReserveMode.ALL_OR_NOTHING and found:
        to_grant = []
    else:
        to_grant = [pattern for pattern in request.patterns if pattern not in found]
    mine = {held.pattern: held for held in active if held.agent_id == request.agent_id}
    expires = now + request.ttl_micros
    granted_ids: list[int] = []
    for pattern in to_grant:
        held = mine.get(pattern)
        if held is not None:
            # The same pattern again extends in place (as on SQLite).
            await conn.execute(
                "UPDATE reservations SET exclusive = %s,"
                " reason = CASE WHEN %s = '' THEN reason ELSE %s END, updated_at = %s,"
                " expiry_warned = CASE WHEN expires_at < %s THEN false ELSE expiry_warned END,"
                " expires_at = greatest(expires_at, %s), revision = %s WHERE id = %s",
                (
                    request.exclusive,
                    request.reason,
                    request.reason,
                    now,
                    expires,
                    expires,
                    await _revision(conn),
                    held.id,
                ),
            )
            granted_ids.append(held.id)
        else:
            cursor = await conn.execute(
                "INSERT INTO reservations (project_id, agent_id, pattern, pattern_group,"
                " exclusive, reason, created_at, updated_at, expires_at, revision)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    request.project_id,
                    request.agent_id,
                    pattern,
                    stored_group(pattern),
                    request.exclusive,
                    request.reason,
                    now,
                    now,
                    expires,
                    await _revision(conn),
                ),
            )
            row = await cursor.fetchone()
            assert row is not None
            granted_ids.append(int(row[0]))
    hit: dict[int, Hold] = {}
    conflicts = []
    for pattern, holders in found.items():
        hit.update((h.id, h) for h in holders)
        conflicts.append(Conflict(pattern, tuple(holder(h) for h in holders[:MAX_RESERVE_HOLDERS])))
    told = [
        await append_notice(
            conn,
            held.agent_id,
            notice(ReservationNoticeKind.CONFLICT, held, request.agent_name, request.reason),
            now,
        )
        for held in hit.values()
    ]
    reserved = Reserved(
        granted=tuple(await load(conn, granted_ids)),
        conflicts=tuple(conflicts),
        notices=tuple(told),
    )
    if request.idempotency_key:
        await conn.execute(
            "INSERT INTO reservation_keys (agent_id, key, created_at, digest, result)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (agent_id, key) DO UPDATE SET"
            " created_at = excluded.created_at, digest = excluded.digest,"
            " result = excluded.result",
            (request.agent_id, request.idempotency_key, now, request.digest, result_json(reserved)),
        )
    return reserved


async def _repeated(conn: Conn, request: ReserveRequest, now: int) -> Reserved | None:
    """The first result of a repeated key within the window, or None when the key is free.

    Raises:
        FailedPrecondition: IDEMPOTENCY_KEY_REUSED when the key was used for another request.
    """
    rows = await _all(
        conn,
        "SELECT created_at, digest, result FROM reservation_keys WHERE agent_id = %s AND key = %s",
        (request.agent_id, request.idempotency_key),
    )
    if not rows or rows[0][0] < now - IDEMPOTENCY_WINDOW_MICROS:
        return None
    _, digest, result = rows[0]
    if digest != request.digest:
        raise FailedPrecondition(
            "IDEMPOTENCY_KEY_REUSED",
            f"idempotency key {request.idempotency_key!r} was used for another ReservePaths"
            " request within 24 hours; repeat that exact request, or use a new key",
        )
    granted_ids, conflicts = stored_result(result)
    return Reserved(tuple(await load(conn, granted_ids)), conflicts, deduplicated=True)


async def _selected(
    conn: Conn,
    agent_id: int,
    project_id: int,
    selection: Selection,
    now: int,
    *,
    require_active: bool,
) -> list[Reservation]:
    """The caller's reservations a renew or release names, active ones only (the errors of
    the SQLite twin)."""
    if selection.ids:
        ids = list(dict.fromkeys(selection.ids))
        found = {r.id: r for r in await load(conn, ids) if r.project_id == project_id}
        return selected_by_ids(ids, found, agent_id, now, require_active=require_active)
    where = "r.agent_id = %s AND r.released_at IS NULL AND r.expires_at > %s"
    params: list[object] = [agent_id, now]
    if not selection.everything:
        where += " AND r.pattern = ANY(%s)"
        params.append(list(selection.patterns))
    rows = await _all(
        conn,
        f"SELECT {RESERVATION_COLUMNS} FROM {RESERVATION_FROM} WHERE {where} ORDER BY r.id",
        params,
    )
    return [reservation_from_row(row) for row in rows]


async def renew(
    conn: Conn,
    agent_id: int,
    project_id: int,
    selection: Selection,
    extend_micros: int,
    now: int,
) -> list[Reservation]:
    """Extend the selected active reservations: new expiry = max(now, old) + extend."""
    await _lock_project(conn, project_id)
    targets = await _selected(conn, agent_id, project_id, selection, now, require_active=True)
    for target in targets:
        await conn.execute(
            "UPDATE reservations SET expires_at = greatest(expires_at, %s) + %s,"
            " updated_at = %s, expiry_warned = false, revision = %s WHERE id = %s",
            (now, extend_micros, now, await _revision(conn), target.id),
        )
    return await load(conn, [r.id for r in targets])


async def release(
    conn: Conn,
    agent_id: int,
    agent_name: str,
    project_id: int,
    selection: Selection,
    now: int,
) -> list[Reservation]:
    """Release the selected active reservations of the caller."""
    await _lock_project(conn, project_id)
    targets = await _selected(conn, agent_id, project_id, selection, now, require_active=False)
    await _mark_released(conn, [r.id for r in targets], now, agent_name, "")
    return await load(conn, [r.id for r in targets])


async def _mark_released(conn: Conn, ids: Sequence[int], at: int, by: str, reason: str) -> None:
    for reservation_id in ids:
        await conn.execute(
            "UPDATE reservations SET released_at = %s, released_by = %s, release_reason = %s,"
            " revision = %s WHERE id = %s",
            (at, by, reason, await _revision(conn), reservation_id),
        )


async def force_release(
    conn: Conn,
    reservation_id: int,
    expected_version: int | None,
    releaser: str,
    reason: str,
    mail: Draft | None,
    now: int,
) -> tuple[Reservation, Sent | None, Notice | None]:
    """Release another agent's reservation, mail its holder (unless ``mail`` is None) and
    leave it a FORCE_RELEASED event.

    Raises:
        FailedPrecondition: RESERVATION_ACTIVE when it was renewed meanwhile.
    """
    rows = await _all(conn, "SELECT project_id FROM reservations WHERE id = %s", (reservation_id,))
    await _lock_project(conn, int(rows[0][0]))  # the service checked the reservation exists
    (current,) = await load(conn, [reservation_id])  # as it is under the lock
    if current.released_at is not None:
        return current, None, None
    if (
        expected_version is not None
        and current.updated_at != expected_version
        and current.active_at(now)
    ):
        raise FailedPrecondition(
            "RESERVATION_ACTIVE",
            f"reservation {reservation_id} was renewed by {current.agent_name} just now",
            metadata={"reservationId": str(reservation_id), "holder": current.agent_name},
        )
    await _mark_released(conn, [reservation_id], now, releaser, reason)
    sent = await insert_message(conn, mail, now) if mail is not None else None
    (released,) = await load(conn, [reservation_id])
    event = await append_notice(
        conn,
        released.agent_id,
        notice(ReservationNoticeKind.FORCE_RELEASED, released, releaser, reason),
        now,
    )
    return released, sent, event


async def expire(conn: Conn, now: int, limit: int) -> list[Reservation]:
    """Record up to ``limit`` expired reservations as released at their expiry. Rows another
    process is expiring at the same moment are skipped (SKIP LOCKED), not waited for."""
    rows = await _all(
        conn,
        "SELECT id FROM reservations WHERE released_at IS NULL AND expires_at <= %s"
        " ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (now, limit),
    )
    ids = [int(row[0]) for row in rows]
    for reservation_id in ids:
        await conn.execute(
            "UPDATE reservations SET released_at = expires_at, release_reason = %s,"
            " revision = %s WHERE id = %s",
            (EXPIRED_REASON, await _revision(conn), reservation_id),
        )
    return await load(conn, ids)


async def mark_expiring(conn: Conn, now: int, horizon_micros: int, limit: int) -> list[Notice]:
    """Leave an EXPIRING event for the holders of up to ``limit`` active reservations that
    expire within the horizon and were not warned yet, and mark them warned."""
    rows = await _all(
        conn,
        "UPDATE reservations SET expiry_warned = true WHERE id IN (SELECT id FROM reservations"
        " WHERE released_at IS NULL AND expires_at > %s AND expires_at <= %s"
        " AND NOT expiry_warned ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED)"
        " RETURNING id, expires_at",
        (now, now + horizon_micros, limit),
    )
    held = await load(conn, [int(row[0]) for row in sorted(rows, key=lambda r: (r[1], r[0]))])
    return [
        await append_notice(
            conn, r.agent_id, notice(ReservationNoticeKind.EXPIRING, r, "", ""), now
        )
        for r in held
    ]


async def release_all_of(conn: Conn, agent_id: int, now: int, reason: str) -> int:
    """Release every active reservation of an agent on its behalf; returns how many."""
    rows = await _all(
        conn,
        "SELECT id FROM reservations WHERE agent_id = %s AND released_at IS NULL"
        " AND expires_at > %s",
        (agent_id, now),
    )
    ids = [int(row[0]) for row in rows]
    await _mark_released(conn, ids, now, "", reason)
    return len(ids)
