"""The import's coordination step: active file reservations and contact links.

Reservations: only active ones (not released, not expired) of imported holders, with a pattern
agentmail accepts (normalised as ReservePaths normalises; a refused one is reported with its
reason), an expiry cut to the longest ReservePaths grants, one row each (each takes the next
revision, which the archive follows). Overlapping exclusive reservations of two agents are
kept as the source had them (its Python server grants every request): CheckConflicts reports
both holders. One the same agent already holds on the same pattern is left as it is.

Contact links: within one project only (agentmail's contacts never cross projects), states
``pending``/``approved``/``blocked`` as they were, a block without expiry; a link the pair
already has here is kept as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from agentmail_server.admin import mcp_mapping as mapping
from agentmail_server.admin.mcp_records import Mapped, Tally
from agentmail_server.admin.mcp_source import SourceLink, SourceReservation
from agentmail_server.domain import reservation_patterns as patterns
from agentmail_server.domain.contacts import MAX_CONTACT_REASON_CHARS, ContactState
from agentmail_server.domain.reservations import MAX_REASON_CHARS, MAX_TTL_SECONDS, stored_group
from agentmail_server.storage.sqlite.reservation_rows import NEXT_REVISION


def reservations(
    conn: sqlite3.Connection,
    held_rows: Sequence[SourceReservation],
    agents: Mapping[int, Mapped],
    now: int,
    tally: Tally,
) -> None:
    """Store the active reservations of imported agents (inside the caller's transaction)."""
    longest = now + MAX_TTL_SECONDS * 1_000_000
    for held in held_rows:
        agent = agents.get(held.agent_id)
        if held.released_at is not None:
            tally.skipped["released"] += 1
            continue
        if held.expires_at is None or held.expires_at <= now:
            tally.skipped["expired"] += 1
            continue
        if agent is None:
            tally.skipped["holder not imported"] += 1
            continue
        try:
            pattern = patterns.normalize(held.pattern[: patterns.MAX_PATTERN_CHARS + 1])
        except patterns.PatternError as error:
            tally.skipped[f"pattern refused ({error.reason})"] += 1
            continue
        present = conn.execute(
            "SELECT 1 FROM reservations WHERE agent_id = ? AND pattern = ? AND"
            " released_at IS NULL AND expires_at > ?",
            (agent.agent_id, pattern, now),
        ).fetchone()
        if present is not None:
            tally.present += 1
            continue
        if held.expires_at > longest:
            tally.adjusted[f"expiry cut to {MAX_TTL_SECONDS // 86400} days"] += 1
        created = held.created_at or now
        # Stored at once (a later row of the same holder and pattern then finds it), each
        # with the next revision, which the archive follows.
        conn.execute(
            "INSERT INTO reservations (project_id, agent_id, pattern, pattern_group,"
            " exclusive, reason, created_at, updated_at, expires_at, revision)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {NEXT_REVISION})",
            (
                agent.project_id,
                agent.agent_id,
                pattern,
                stored_group(pattern),
                int(held.exclusive),
                mapping.single_line(held.reason, MAX_REASON_CHARS),
                created,
                created,
                min(held.expires_at, longest),
            ),
        )
        tally.imported += 1


def contacts(
    conn: sqlite3.Connection,
    links: Sequence[SourceLink],
    agents: Mapping[int, Mapped],
    now: int,
    tally: Tally,
) -> None:
    """Store the contact links between imported agents of one project (inside the caller's
    transaction); a link already there is kept as it is."""
    for link in links:
        state = mapping.link_state(link.status)
        a, b = agents.get(link.a_agent_id), agents.get(link.b_agent_id)
        if state is None:
            tally.skipped[f"unknown status {link.status[:16]!r}"] += 1
        elif a is None or b is None:
            tally.skipped["agent not imported"] += 1
        elif a.project_id != b.project_id:
            tally.skipped["cross-project link (contacts are within a project here)"] += 1
        elif a.agent_id == b.agent_id:
            tally.skipped["link to itself"] += 1
        else:
            created = link.created_at or now
            expires = None if state is ContactState.BLOCKED else link.expires_at
            cursor = conn.execute(
                "INSERT INTO contacts (project_id, from_agent, to_agent, state, reason,"
                " expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (project_id, from_agent, to_agent) DO NOTHING",
                (
                    a.project_id,
                    a.agent_id,
                    b.agent_id,
                    int(state),
                    mapping.single_line(link.reason, MAX_CONTACT_REASON_CHARS),
                    expires,
                    created,
                    created,
                ),
            )
            if cursor.rowcount:
                tally.imported += 1
            else:
                tally.present += 1
