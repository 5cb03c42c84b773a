"""Contact-policy enforcement inside the transaction that stores a message (PostgreSQL).

The same facts and the same judgement as :mod:`agentmail_server.storage.sqlite.policy`: the
domain's :func:`~agentmail_server.domain.contacts.refusal` decides, on facts read here, in the
sending transaction, with a constant number of index seeks per send (recipient ids go through
one ``= ANY(array)``, and every fact is read in one pipeline). A refusal fails the whole send
(explicit recipients) or leaves the agent out (a broadcast).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
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
from agentmail_server.domain.reservations import overlap
from agentmail_server.storage.postgres.connection import Conn


async def admit(
    conn: Conn, draft: Draft, rules: SendRules, now: int
) -> tuple[tuple[Recipient, ...], tuple[Skipped, ...]]:
    """The recipients that accept the draft's sender, and those a broadcast skips.

    Every fact is read in one pipeline (one round trip to the server, whatever the number of
    recipients), for every candidate, then narrowed to the candidates each fact applies to.

    Raises:
        PermissionDenied: explicit recipients only: one or more refuse (metadata ``refused``
            lists ``name:REASON`` for each).
    """
    sender = draft.sender_id
    ids = [r.agent_id for r in draft.recipients]
    candidates = [i for i in ids if i != sender]
    facts_of = await _facts(conn, draft, candidates, now - rules.auto_window_micros, now)
    states = facts_of.states
    others = [i for i in candidates if states[i][0] is None]
    in_thread = facts_of.thread_speakers & set(others)
    peers = facts_of.reservation_peers & set(others)
    open_question = [i for i in others if i not in in_thread and i not in peers]
    asked = set(open_question)
    blocked, approved, linked = (links & asked for links in facts_of.links)
    recent = facts_of.recent & asked
    found = Relations(states, in_thread, peers, asked, blocked, approved, linked, recent)
    verdict = judge(draft, rules, now, found)
    first_contacts = list(verdict.first_contacts)
    if first_contacts:
        # First contacts become approved links from the sender (see domain.contacts).
        await conn.execute(
            "INSERT INTO contacts (project_id, from_agent, to_agent, state, reason, expires_at,"
            " created_at, updated_at) SELECT %s, %s, t, %s, %s, %s, %s, %s"
            " FROM unnest(%s::bigint[]) AS t ON CONFLICT DO NOTHING",
            (
                draft.project_id,
                draft.sender_id,
                int(ContactState.APPROVED),
                contacts.FIRST_CONTACT_REASON,
                now + rules.first_contact_micros,
                now,
                now,
                first_contacts,
            ),
        )
    return verdict.admitted, verdict.refused


def exchange_pairs(sender_id: int, recipients: Iterable[Recipient]) -> list[tuple[int, int]]:
    """The ``(agent_low, agent_high)`` rows of ``contact_exchanges`` a send from ``sender_id``
    to ``recipients`` refreshes (for AUTO), in key order; the send's statement writes them."""
    return sorted(
        {
            (min(sender_id, r.agent_id), max(sender_id, r.agent_id))
            for r in recipients
            if r.agent_id != sender_id
        }
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Facts:
    """What :func:`admit` decides on, read for every candidate recipient."""

    # agent id -> (retired_at, contact_policy, last activity)
    states: dict[int, tuple[Any, ...]]
    thread_speakers: set[int]
    reservation_peers: set[int]
    # (blocked the sender, joined by a live approval, joined by any link)
    links: tuple[set[int], set[int], set[int]]
    recent: set[int]


async def _facts(conn: Conn, draft: Draft, candidates: list[int], since: int, now: int) -> _Facts:
    """Every fact about ``candidates`` (and the sender), from statements sent in one
    pipeline and read back together."""
    sender = draft.sender_id
    active = "project_id = %s AND released_at IS NULL AND expires_at > %s"
    statements: list[tuple[str, tuple[Any, ...]]] = [
        (
            "SELECT id, retired_at, contact_policy, coalesce(last_active_at, created_at)"
            " FROM agents WHERE id = ANY(%s)",
            ([r.agent_id for r in draft.recipients],),
        ),
        # The sender must have sent or received a message of the thread for its other
        # speakers to count (naming a thread alone proves nothing).
        (
            "SELECT DISTINCT sender_id FROM messages WHERE project_id = %s AND thread_id = %s"
            " AND sender_id = ANY(%s) AND EXISTS (SELECT 1 FROM messages m"
            " WHERE m.project_id = %s AND m.thread_id = %s AND (m.sender_id = %s OR EXISTS"
            " (SELECT 1 FROM deliveries d WHERE d.agent_id = %s AND d.message_id = m.id)))",
            (
                draft.project_id,
                draft.thread_id,
                candidates,
                draft.project_id,
                draft.thread_id,
                sender,
                sender,
            ),
        ),
        (
            f"SELECT agent_id, pattern FROM reservations WHERE agent_id = ANY(%s) AND {active}",
            ([sender, *candidates], draft.project_id, now),
        ),
        (
            "SELECT to_agent, state, expires_at, true FROM contacts WHERE from_agent = %s"
            " AND to_agent = ANY(%s) UNION ALL SELECT from_agent, state, expires_at, false"
            " FROM contacts WHERE to_agent = %s AND from_agent = ANY(%s)",
            (sender, candidates, sender, candidates),
        ),
        (
            "SELECT agent_high FROM contact_exchanges WHERE agent_low = %s"
            " AND agent_high = ANY(%s) AND last_at >= %s"
            " UNION SELECT agent_low FROM contact_exchanges WHERE agent_high = %s"
            " AND agent_low = ANY(%s) AND last_at >= %s",
            (sender, candidates, since, sender, candidates, since),
        ),
    ]
    async with conn.pipeline():
        cursors = [await conn.execute(sql.encode(), params) for sql, params in statements]
    states, speakers, holds, links, exchanged = [await c.fetchall() for c in cursors]
    mine = [pattern for holder, pattern in holds if holder == sender]
    peers = {
        holder
        for holder, pattern in holds
        if holder != sender and any(overlap(pattern, own) for own in mine)
    }
    return _Facts(
        states={row[0]: row[1:] for row in states},
        thread_speakers={row[0] for row in speakers} if draft.thread_id else set(),
        reservation_peers=peers,
        links=_links(links, now),
        recent={row[0] for row in exchanged},
    )


def _links(rows: list[tuple[Any, ...]], now: int) -> tuple[set[int], set[int], set[int]]:
    """(agents that blocked the sender, agents joined to it by a live approval, agents joined
    to it by any link), from its outgoing and incoming links."""
    linked: set[int] = set()
    blocked: set[int] = set()
    approved: set[int] = set()
    for other, state, expires_at, outgoing in rows:
        linked.add(other)
        if outgoing and state == ContactState.BLOCKED:
            blocked.add(other)  # the recipient blocked this sender's request
        elif state == ContactState.APPROVED and (expires_at is None or expires_at > now):
            approved.add(other)
    return blocked, approved, linked
