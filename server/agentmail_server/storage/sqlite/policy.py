"""Contact-policy enforcement inside the transaction that stores a message.

:func:`admit` gathers, for every recipient of a draft, the facts
:func:`agentmail_server.domain.contacts.refusal` decides on, with a constant number of index
seeks per send (recipient ids go through one ``IN (...)``), and either fails the whole send
(explicit recipients) or leaves the refusing agents out (a broadcast). Because it runs in the
writer's transaction, a send is judged on exactly the state it commits against: a block or a
retirement committed just before cannot be raced past, and nothing is half-delivered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from agentmail_server.domain import contacts
from agentmail_server.domain.contact_judgement import Relations, judge
from agentmail_server.domain.contacts import (
    ContactState,
    SendRules,
    Skipped,
)
from agentmail_server.domain.drafts import Draft
from agentmail_server.domain.models import Recipient
from agentmail_server.storage.sqlite import reservation_rows


def reservation_peers(
    conn: sqlite3.Connection,
    project_id: int,
    sender_id: int,
    candidate_ids: Sequence[int],
    now: int,
) -> set[int]:
    """Agents among ``candidate_ids`` holding an active reservation that overlaps one of the
    sender's: always allowed to receive its mail (two index seeks, in this transaction)."""
    return reservation_rows.overlapping_holders(conn, project_id, sender_id, candidate_ids, now)


def admit(
    conn: sqlite3.Connection, draft: Draft, rules: SendRules, now: int
) -> tuple[tuple[Recipient, ...], tuple[Skipped, ...]]:
    """The recipients that accept the draft's sender, and those a broadcast skips.

    Raises:
        PermissionDenied: explicit recipients only: one or more refuse. The reason is the
            first refusal's; metadata ``refused`` lists ``name:REASON`` for each.
    """
    sender = draft.sender_id
    ids = [r.agent_id for r in draft.recipients]
    known = _facts(conn, draft.project_id, sender, ids)
    states = {agent_id: row[:3] for agent_id, row in known.items()}
    others = [i for i in ids if i != sender and states[i][0] is None]
    in_thread = _thread_speakers(conn, draft, others) if draft.thread_id and others else set()
    peers = reservation_peers(conn, draft.project_id, sender, others, now) if others else set()
    open_question = [i for i in others if i not in in_thread and i not in peers]
    blocked, approved, linked, recent = _relations(
        known, open_question, now, now - rules.auto_window_micros
    )
    found = Relations(
        states, in_thread, peers, set(open_question), blocked, approved, linked, recent
    )
    verdict = judge(draft, rules, now, found)
    first_contacts = list(verdict.first_contacts)
    if first_contacts:  # rare after the first send of a pair: skip the statement
        _open_links(conn, draft, first_contacts, now + rules.first_contact_micros, now)
    return verdict.admitted, verdict.refused


def _open_links(
    conn: sqlite3.Connection, draft: Draft, targets: list[int], expires_at: int, now: int
) -> None:
    """Record first contacts as approved links from the sender (see domain.contacts)."""
    conn.executemany(
        "INSERT INTO contacts (project_id, from_agent, to_agent, state, reason, expires_at,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                draft.project_id,
                draft.sender_id,
                target,
                int(ContactState.APPROVED),
                contacts.FIRST_CONTACT_REASON,
                expires_at,
                now,
                now,
            )
            for target in targets
        ],
    )


def record_exchanges(
    conn: sqlite3.Connection, sender_id: int, recipients: Iterable[Recipient], now: int
) -> None:
    """Note that mail passed between the sender and each recipient now (for AUTO)."""
    conn.executemany(
        "INSERT INTO contact_exchanges (agent_low, agent_high, last_at) VALUES (?, ?, ?)"
        " ON CONFLICT (agent_low, agent_high) DO UPDATE"
        " SET last_at = max(last_at, excluded.last_at)",
        [
            (min(sender_id, r.agent_id), max(sender_id, r.agent_id), now)
            for r in recipients
            if r.agent_id != sender_id
        ],
    )


def _thread_speakers(conn: sqlite3.Connection, draft: Draft, candidates: list[int]) -> set[int]:
    """Candidates that sent a message of the draft's thread, provided the sender sent or
    received one of it too (else nobody: naming a thread alone proves nothing)."""
    sender_in = conn.execute(
        "SELECT 1 FROM messages m WHERE m.project_id = ? AND m.thread_id = ? AND"
        " (m.sender_id = ? OR EXISTS (SELECT 1 FROM deliveries d"
        "  WHERE d.agent_id = ? AND d.message_id = m.id)) LIMIT 1",
        (draft.project_id, draft.thread_id, draft.sender_id, draft.sender_id),
    ).fetchone()
    if sender_in is None:
        return set()
    marks = ",".join("?" * len(candidates))
    return {
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT sender_id FROM messages WHERE project_id = ? AND thread_id = ?"
            f" AND sender_id IN ({marks})",
            (draft.project_id, draft.thread_id, *candidates),
        )
    }


# Everything the rule needs about each recipient, in ONE statement (one seek per recipient
# in each table): its state, the link in each direction and when mail last passed between
# the two. Five statements did this before; each costs the writer thread a statement's
# overhead on every send, which the single writer pays in series.
_FACTS = (
    "SELECT a.id, a.retired_at, a.contact_policy, coalesce(a.last_active_at, a.created_at),"
    " o.state, o.expires_at, i.state, i.expires_at, e.last_at"
    " FROM agents a"
    " LEFT JOIN contacts o ON o.project_id = ?1 AND o.from_agent = ?2 AND o.to_agent = a.id"
    " LEFT JOIN contacts i ON i.project_id = ?1 AND i.from_agent = a.id AND i.to_agent = ?2"
    " LEFT JOIN contact_exchanges e"
    "  ON e.agent_low = min(?2, a.id) AND e.agent_high = max(?2, a.id)"
    " WHERE a.id IN ({marks})"
)


def _facts(
    conn: sqlite3.Connection, project_id: int, sender: int, ids: Sequence[int]
) -> dict[int, tuple[Any, ...]]:
    """Per recipient id: (retired_at, contact_policy, last active, outgoing link state and
    expiry, incoming link state and expiry, last exchange time); Nones where nothing is."""
    marks = ",".join(f"?{n}" for n in range(3, 3 + len(ids)))
    return {
        row[0]: row[1:]
        for row in conn.execute(_FACTS.format(marks=marks), (project_id, sender, *ids))
    }


def _relations(
    facts: dict[int, tuple[Any, ...]], candidates: list[int], now: int, since: int
) -> tuple[set[int], set[int], set[int], set[int]]:
    """(candidates that blocked the sender, candidates joined to it by a live approval,
    candidates joined to it by any link at all, candidates that exchanged mail with it at or
    after ``since``)."""
    blocked: set[int] = set()
    approved: set[int] = set()
    linked: set[int] = set()
    recent: set[int] = set()
    for other in candidates:
        _, _, _, out_state, out_expires, in_state, in_expires, last_at = facts[other]
        if out_state is not None:
            linked.add(other)
            if out_state == ContactState.BLOCKED:
                blocked.add(other)  # the recipient blocked this sender's request
            elif out_state == ContactState.APPROVED and _live(out_expires, now):
                approved.add(other)
        if in_state is not None:
            linked.add(other)
            if in_state == ContactState.APPROVED and _live(in_expires, now):
                approved.add(other)
        if last_at is not None and last_at >= since:
            recent.add(other)
    return blocked, approved, linked, recent


def _live(expires_at: int | None, now: int) -> bool:
    return expires_at is None or expires_at > now
