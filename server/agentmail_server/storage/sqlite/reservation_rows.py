"""Reservation reads shared by the write operations: by ids, the active ones of a project,
and the stored result of an idempotency key."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from agentmail_server.domain.reservations import (
    Conflict,
    Hold,
    Holder,
    Reservation,
    Reserved,
    overlap,
)
from agentmail_server.storage.sqlite.rows import (
    HOLD_COLUMNS,
    RESERVATION_COLUMNS,
    RESERVATION_FROM,
    hold_from_row,
    reservation_from_row,
)

# Every change takes the next revision (one seek on its unique index), so the git archive can
# follow reservation changes in commit order, as it follows agents.
NEXT_REVISION = "(SELECT coalesce(max(revision), 0) + 1 FROM reservations)"


def load(conn: sqlite3.Connection, ids: list[int]) -> list[Reservation]:
    """The reservations with these ids, in the order given (missing ones left out)."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT {RESERVATION_COLUMNS} FROM {RESERVATION_FROM} WHERE r.id IN ({marks})", ids
    ).fetchall()
    by_id = {row[0]: reservation_from_row(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


# The project's active reservations: one range seek on the partial index reservations_active.
ACTIVE_HOLDS = (
    f"SELECT {HOLD_COLUMNS} FROM {RESERVATION_FROM}"
    " WHERE r.project_id = ? AND r.released_at IS NULL AND r.expires_at > ?"
)


def active_in_project(
    conn: sqlite3.Connection, project_id: int, now: int, groups: Sequence[str] | None = None
) -> list[Hold]:
    """The project's active reservations, as holds; only those of the stored ``groups``
    (see :func:`~agentmail_server.domain.reservations.stored_group`) unless it is None."""
    if groups is None:
        rows = conn.execute(ACTIVE_HOLDS, (project_id, now))
    else:
        marks = ",".join("?" * len(groups))
        rows = conn.execute(
            f"SELECT {HOLD_COLUMNS} FROM reservations r"
            " INDEXED BY reservations_active_by_group JOIN agents a ON a.id = r.agent_id"
            f" WHERE r.project_id = ? AND r.pattern_group IN ({marks})"
            " AND r.released_at IS NULL AND r.expires_at > ?",
            (project_id, *groups, now),
        )
    return [hold_from_row(row) for row in rows]


def result_json(reserved: Reserved) -> str:
    """A ReservePaths result as stored with its idempotency key: the granted ids (reloaded on
    a repeat, so it shows their state then) and the conflicts as they were."""
    return json.dumps(
        {
            "granted": [r.id for r in reserved.granted],
            "conflicts": [
                [
                    c.pattern,
                    [
                        [h.reservation_id, h.agent_name, h.pattern, h.exclusive, h.expires_at]
                        for h in c.holders
                    ],
                ]
                for c in reserved.conflicts
            ],
        }
    )


def stored_result(text: str) -> tuple[list[int], tuple[Conflict, ...]]:
    """The granted ids and the conflicts of a result stored by :func:`result_json` (either
    backend)."""
    stored = json.loads(text)
    conflicts = tuple(
        Conflict(pattern, tuple(Holder(h[0], h[1], h[2], bool(h[3]), h[4]) for h in holders))
        for pattern, holders in stored["conflicts"]
    )
    return list(stored["granted"]), conflicts


def result_from_json(conn: sqlite3.Connection, text: str) -> Reserved:
    """The stored result of a repeated idempotency key."""
    granted, conflicts = stored_result(text)
    return Reserved(tuple(load(conn, granted)), conflicts, deduplicated=True)


def overlapping_holders(
    conn: sqlite3.Connection,
    project_id: int,
    agent_id: int,
    candidate_ids: Sequence[int],
    now: int,
) -> set[int]:
    """The agents among ``candidate_ids`` holding an active reservation that overlaps one of
    ``agent_id``'s (either exclusive or shared): seeks on ``reservations_by_holder``, and
    none at all past the first when the agent holds nothing."""
    active = "r.project_id = ? AND r.released_at IS NULL AND r.expires_at > ?"
    mine = [
        row[0]
        for row in conn.execute(
            f"SELECT r.pattern FROM reservations r WHERE r.agent_id = ? AND {active}",
            (agent_id, project_id, now),
        )
    ]
    if not mine or not candidate_ids:
        return set()
    marks = ",".join("?" * len(candidate_ids))
    found: set[int] = set()
    for holder_id, pattern in conn.execute(
        f"SELECT r.agent_id, r.pattern FROM reservations r WHERE r.agent_id IN ({marks})"
        f" AND {active}",
        (*candidate_ids, project_id, now),
    ):
        if holder_id not in found and any(overlap(pattern, own) for own in mine):
            found.add(holder_id)
    return found
