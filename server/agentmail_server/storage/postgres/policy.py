"""Contact-policy enforcement inside the transaction that stores a message (PostgreSQL).

The same facts and the same judgement as :mod:`agentmail_server.storage.sqlite.policy`: the
domain's :func:`~agentmail_server.domain.contacts.refusal` decides, on facts read here, in the
sending transaction, with a constant number of index seeks per send (recipient ids go through
one ``= ANY(array)``, and every fact is read in one statement). A refusal fails the whole send
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

    Every fact is read in one statement (one round trip to the server, whatever the number of
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


# Every fact of :func:`admit` in ONE statement: each subselect is one kind of fact, rows of
# several columns come back as a JSON array and single columns as a bigint array. Five
# statements in one pipeline did this before; each costs psycopg about 60 us of this
# process's CPU (python -m bench.pg_group_commit), which the writer pays per send.
_FACTS = b"""
SELECT
 (SELECT coalesce(json_agg(json_build_array(id, retired_at, contact_policy,
   coalesce(last_active_at, created_at))), '[]'::json)
  FROM agents WHERE id = ANY(%(recipients)s)),
 (SELECT coalesce(array_agg(DISTINCT sender_id), '{}'::bigint[]) FROM messages
  WHERE project_id = %(project)s AND thread_id = %(thread)s AND sender_id = ANY(%(candidates)s)
  AND EXISTS (SELECT 1 FROM messages m WHERE m.project_id = %(project)s
   AND m.thread_id = %(thread)s AND (m.sender_id = %(sender)s OR EXISTS
   (SELECT 1 FROM deliveries d WHERE d.agent_id = %(sender)s AND d.message_id = m.id)))),
 (SELECT coalesce(json_agg(json_build_array(agent_id, pattern)), '[]'::json) FROM reservations
  WHERE agent_id = ANY(%(holders)s) AND project_id = %(project)s AND released_at IS NULL
  AND expires_at > %(now)s),
 (SELECT coalesce(json_agg(json_build_array(other, state, expires_at, outgoing)), '[]'::json)
  FROM (SELECT to_agent, state, expires_at, true FROM contacts
   WHERE from_agent = %(sender)s AND to_agent = ANY(%(candidates)s)
   UNION ALL SELECT from_agent, state, expires_at, false FROM contacts
   WHERE to_agent = %(sender)s AND from_agent = ANY(%(candidates)s))
  AS link(other, state, expires_at, outgoing)),
 (SELECT coalesce(array_agg(agent), '{}'::bigint[])
  FROM (SELECT agent_high FROM contact_exchanges WHERE agent_low = %(sender)s
   AND agent_high = ANY(%(candidates)s) AND last_at >= %(since)s
   UNION SELECT agent_low FROM contact_exchanges WHERE agent_high = %(sender)s
   AND agent_low = ANY(%(candidates)s) AND last_at >= %(since)s) AS exchanged(agent))
"""


async def _facts(conn: Conn, draft: Draft, candidates: list[int], since: int, now: int) -> _Facts:
    """Every fact about ``candidates`` (and the sender), read in one statement.

    The sender must have sent or received a message of the thread for its other speakers to
    count (naming a thread alone proves nothing)."""
    sender = draft.sender_id
    cursor = await conn.execute(
        _FACTS,
        {
            "recipients": [r.agent_id for r in draft.recipients],
            "project": draft.project_id,
            "thread": draft.thread_id,
            "candidates": candidates,
            "sender": sender,
            "holders": [sender, *candidates],
            "now": now,
            "since": since,
        },
    )
    row = await cursor.fetchone()
    assert row is not None  # one row of subselects, always
    states, speakers, holds, links, exchanged = row
    mine = [pattern for holder, pattern in holds if holder == sender]
    peers = {
        holder
        for holder, pattern in holds
        if holder != sender and any(overlap(pattern, own) for own in mine)
    }
    return _Facts(
        states={state[0]: tuple(state[1:]) for state in states},
        thread_speakers=set(speakers) if draft.thread_id else set(),
        reservation_peers=peers,
        links=_links(links, now),
        recent=set(exchanged),
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
