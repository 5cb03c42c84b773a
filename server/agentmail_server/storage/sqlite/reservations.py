"""Reservation write operations. Each runs on the writer thread inside the batch transaction.

The conflict check and the insert of a ReservePaths are one operation: the single writer runs
operations one after another, so of two agents racing for the same file exclusively, the
second one's check already sees the first one's reservation. Exactly one wins.

Each operation reads the project's active reservations once (one seek on the partial index
``reservations_active``) and tests overlaps in memory on cached compiled patterns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

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
from agentmail_server.storage.sqlite import writes
from agentmail_server.storage.sqlite.notices import append_notice
from agentmail_server.storage.sqlite.reservation_rows import (
    NEXT_REVISION,
    active_in_project,
    load,
    result_from_json,
    result_json,
)
from agentmail_server.storage.sqlite.rows import (
    RESERVATION_COLUMNS,
    RESERVATION_FROM,
    reservation_from_row,
)

# Holders listed per conflict in a ReservePaths response (the oldest ones).
MAX_RESERVE_HOLDERS = 20


def reserve(conn: sqlite3.Connection, request: ReserveRequest, now: int) -> Reserved:
    """Check conflicts and grant in one step (see the module docstring)."""
    if request.idempotency_key:
        repeated = _repeated(conn, request, now)
        if repeated is not None:
            return repeated
    # Only the requested patterns' groups can conflict or be extended in place.
    active = active_in_project(conn, request.project_id, now, groups_to_load(request.patterns))
    found = find_conflicts(request.patterns, request.exclusive, request.agent_id, active)
    if request.mode is ReserveMode.ADVISORY:
        to_grant = list(request.patterns)
    elif request.mode is ReserveMode.ALL_OR_NOTHING and found:
        to_grant = []
    else:
        to_grant = [pattern for pattern in request.patterns if pattern not in found]
    mine = {held.pattern: held for held in active if held.agent_id == request.agent_id}
    expires = now + request.ttl_micros
    granted_ids = []
    for pattern in to_grant:
        held = mine.get(pattern)
        if held is not None:
            # The same pattern again extends in place: the later expiry wins; exclusivity (and
            # a reason, when one is given) take the new request's.
            conn.execute(
                "UPDATE reservations SET exclusive = ?,"
                " reason = CASE WHEN ? = '' THEN reason ELSE ? END, updated_at = ?,"
                " expiry_warned = CASE WHEN expires_at < ? THEN 0 ELSE expiry_warned END,"
                f" expires_at = max(expires_at, ?), revision = {NEXT_REVISION} WHERE id = ?",
                (
                    int(request.exclusive),
                    request.reason,
                    request.reason,
                    now,
                    expires,
                    expires,
                    held.id,
                ),
            )
            granted_ids.append(held.id)
        else:
            cursor = conn.execute(
                "INSERT INTO reservations (project_id, agent_id, pattern, pattern_group, exclusive,"
                " reason, created_at, updated_at, expires_at, revision)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {NEXT_REVISION})",
                (
                    request.project_id,
                    request.agent_id,
                    pattern,
                    stored_group(pattern),
                    int(request.exclusive),
                    request.reason,
                    now,
                    now,
                    expires,
                ),
            )
            assert cursor.lastrowid is not None
            granted_ids.append(cursor.lastrowid)
    hit: dict[int, Hold] = {}
    conflicts = []
    for pattern, holders in found.items():
        hit.update((h.id, h) for h in holders)
        conflicts.append(Conflict(pattern, tuple(holder(h) for h in holders[:MAX_RESERVE_HOLDERS])))
    # Each holder whose reservation stood in the way hears of it (once per reservation).
    told = [
        append_notice(
            conn,
            held.agent_id,
            notice(ReservationNoticeKind.CONFLICT, held, request.agent_name, request.reason),
            now,
        )
        for held in hit.values()
    ]
    reserved = Reserved(
        granted=tuple(load(conn, granted_ids)),
        conflicts=tuple(conflicts),
        notices=tuple(told),
    )
    if request.idempotency_key:
        conn.execute(
            "INSERT OR REPLACE INTO reservation_keys (agent_id, key, created_at, digest, result)"
            " VALUES (?, ?, ?, ?, ?)",
            (request.agent_id, request.idempotency_key, now, request.digest, result_json(reserved)),
        )
    return reserved


def _repeated(conn: sqlite3.Connection, request: ReserveRequest, now: int) -> Reserved | None:
    """The first result of a repeated key within the window, or None when the key is free.

    Raises:
        FailedPrecondition: IDEMPOTENCY_KEY_REUSED when the key was used for another request.
    """
    row = conn.execute(
        "SELECT created_at, digest, result FROM reservation_keys WHERE agent_id = ? AND key = ?",
        (request.agent_id, request.idempotency_key),
    ).fetchone()
    if row is None or row[0] < now - IDEMPOTENCY_WINDOW_MICROS:
        return None
    if row[1] != request.digest:
        raise FailedPrecondition(
            "IDEMPOTENCY_KEY_REUSED",
            f"idempotency key {request.idempotency_key!r} was used for another ReservePaths"
            " request within 24 hours; repeat that exact request, or use a new key",
        )
    return result_from_json(conn, row[2])


def _selected(
    conn: sqlite3.Connection,
    agent_id: int,
    project_id: int,
    selection: Selection,
    now: int,
    *,
    require_active: bool,
) -> list[Reservation]:
    """The caller's reservations a renew or release names, active ones only.

    Raises:
        NotFound: RESERVATION_NOT_FOUND for ids unknown or of another project.
        PermissionDenied: NOT_RESERVATION_HOLDER for another agent's reservation.
        FailedPrecondition: RESERVATION_NOT_ACTIVE, with ``require_active``, for one that is
            released or expired.
    """
    if selection.ids:
        ids = list(dict.fromkeys(selection.ids))
        found = {r.id: r for r in load(conn, ids) if r.project_id == project_id}
        return selected_by_ids(ids, found, agent_id, now, require_active=require_active)
    where = "r.agent_id = ? AND r.released_at IS NULL AND r.expires_at > ?"
    params: list[object] = [agent_id, now]
    if not selection.everything:
        where += f" AND r.pattern IN ({','.join('?' * len(selection.patterns))})"
        params.extend(selection.patterns)
    rows = conn.execute(
        f"SELECT {RESERVATION_COLUMNS} FROM {RESERVATION_FROM} WHERE {where} ORDER BY r.id",
        params,
    ).fetchall()
    return [reservation_from_row(row) for row in rows]


def renew(
    conn: sqlite3.Connection,
    agent_id: int,
    project_id: int,
    selection: Selection,
    extend_micros: int,
    now: int,
) -> list[Reservation]:
    """Extend the selected active reservations: new expiry = max(now, old) + extend."""
    targets = _selected(conn, agent_id, project_id, selection, now, require_active=True)
    conn.executemany(
        "UPDATE reservations SET expires_at = max(expires_at, ?) + ?, updated_at = ?,"
        f" expiry_warned = 0, revision = {NEXT_REVISION} WHERE id = ?",
        [(now, extend_micros, now, r.id) for r in targets],
    )
    return load(conn, [r.id for r in targets])


def release(
    conn: sqlite3.Connection,
    agent_id: int,
    agent_name: str,
    project_id: int,
    selection: Selection,
    now: int,
) -> list[Reservation]:
    """Release the selected active reservations of the caller (others are left as they are)."""
    targets = _selected(conn, agent_id, project_id, selection, now, require_active=False)
    _mark_released(conn, [r.id for r in targets], now, agent_name, "")
    return load(conn, [r.id for r in targets])


def release_all_of(conn: sqlite3.Connection, agent_id: int, now: int, reason: str) -> int:
    """Release every active reservation of an agent on its behalf (released by nobody, with
    ``reason``); returns how many. For retirement, inside its transaction."""
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM reservations WHERE agent_id = ? AND released_at IS NULL"
            " AND expires_at > ?",
            (agent_id, now),
        )
    ]
    _mark_released(conn, ids, now, "", reason)
    return len(ids)


def _mark_released(
    conn: sqlite3.Connection, ids: Sequence[int], at: int, by: str, reason: str
) -> None:
    conn.executemany(
        "UPDATE reservations SET released_at = ?, released_by = ?, release_reason = ?,"
        f" revision = {NEXT_REVISION} WHERE id = ?",
        [(at, by, reason, i) for i in ids],
    )


def force_release(
    conn: sqlite3.Connection,
    reservation_id: int,
    expected_version: int | None,
    releaser: str,
    reason: str,
    mail: Draft | None,
    now: int,
) -> tuple[Reservation, Sent | None, Notice | None]:
    """Release another agent's reservation, mail its holder (unless ``mail`` is None: an
    operator, who is no agent, sends none) and leave it a FORCE_RELEASED event.

    ``expected_version`` is the ``updated_at`` an agent's staleness check was made on: a
    reservation still active whose holder renewed or extended it since is no longer stale.
    None (an operator's decision) releases it whatever happened since.

    Raises:
        FailedPrecondition: RESERVATION_ACTIVE when it was renewed meanwhile.
    """
    (current,) = load(conn, [reservation_id])
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
    _mark_released(conn, [reservation_id], now, releaser, reason)
    sent = writes.insert_message(conn, mail, now) if mail is not None else None
    (released,) = load(conn, [reservation_id])
    event = append_notice(
        conn,
        released.agent_id,
        notice(ReservationNoticeKind.FORCE_RELEASED, released, releaser, reason),
        now,
    )
    return released, sent, event


def expire(conn: sqlite3.Connection, now: int, limit: int) -> list[Reservation]:
    """Record up to ``limit`` expired reservations as released at their expiry."""
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM reservations WHERE released_at IS NULL AND expires_at <= ?"
            " ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
    ]
    conn.executemany(
        "UPDATE reservations SET released_at = expires_at, release_reason = ?,"
        f" revision = {NEXT_REVISION} WHERE id = ?",
        [(EXPIRED_REASON, i) for i in ids],
    )
    return load(conn, ids)


def mark_expiring(
    conn: sqlite3.Connection, now: int, horizon_micros: int, limit: int
) -> list[Notice]:
    """Leave an EXPIRING event for the holders of up to ``limit`` active reservations that
    expire within the horizon and were not warned yet, and mark them warned (a renew or a
    later expiry clears the mark)."""
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM reservations WHERE released_at IS NULL AND expires_at > ?"
            " AND expires_at <= ? AND expiry_warned = 0 ORDER BY expires_at LIMIT ?",
            (now, now + horizon_micros, limit),
        )
    ]
    conn.executemany("UPDATE reservations SET expiry_warned = 1 WHERE id = ?", [(i,) for i in ids])
    return [
        append_notice(
            conn, held.agent_id, notice(ReservationNoticeKind.EXPIRING, held, "", ""), now
        )
        for held in load(conn, ids)
    ]
