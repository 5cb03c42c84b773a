"""Judging every recipient of one draft, on facts a backend has read in the sending transaction.

Each storage backend reads the facts its own way (SQLite: one statement; PostgreSQL: one
pipeline) and then calls :func:`judge`, so the decision — :func:`~.contacts.refusal` per
recipient, the broadcast's idle rule, which first contacts open a link, and the error an explicit
send gets — exists once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence, Set

from agentmail_server.domain import contacts
from agentmail_server.domain.contacts import ContactPolicy, RecipientFacts, SendRules, Skipped
from agentmail_server.domain.drafts import Draft
from agentmail_server.domain.models import Recipient
from agentmail_server.errors import PermissionDenied


@dataclasses.dataclass(frozen=True, slots=True)
class Relations:
    """What a backend found about the draft's recipients (agent ids)."""

    # Per recipient id: (retired_at, stored contact policy or None, last active time).
    states: Mapping[int, tuple[int | None, int | None, int]]
    in_thread: Set[int]
    reservation_peers: Set[int]
    # The candidates neither in the thread nor reservation peers: the links decide for them.
    open_question: Set[int]
    blocked: Set[int]
    approved: Set[int]
    linked: Set[int]
    recent: Set[int]


@dataclasses.dataclass(frozen=True, slots=True)
class Judgement:
    admitted: tuple[Recipient, ...]
    refused: tuple[Skipped, ...]
    # Recipients whose first contact opens an approved link from the sender.
    first_contacts: tuple[int, ...]


def judge(draft: Draft, rules: SendRules, now: int, found: Relations) -> Judgement:
    """The recipients that accept the draft's sender, those a broadcast skips, and the first
    contacts to record.

    Raises:
        PermissionDenied: explicit recipients only: one or more refuse. The reason is the
            first refusal's; metadata ``refused`` lists ``name:REASON`` for each.
    """
    idle_before = now - rules.broadcast_idle_micros if rules.broadcast_idle_micros else None
    unwritten = dict(draft.recent_activity)
    admitted: list[Recipient] = []
    refused: list[Skipped] = []
    first_contacts: list[int] = []
    for recipient in draft.recipients:
        agent_id = recipient.agent_id
        retired_at, stored_policy, last_active = found.states[agent_id]
        policy = rules.default_policy if stored_policy is None else ContactPolicy(stored_policy)
        facts = RecipientFacts(
            is_self=agent_id == draft.sender_id,
            retired=retired_at is not None,
            policy=policy,
            in_thread=agent_id in found.in_thread,
            reservation_peer=agent_id in found.reservation_peers,
            blocked_sender=agent_id in found.blocked,
            approved_link=agent_id in found.approved,
            recent_exchange=agent_id in found.recent,
            unlinked=agent_id in found.open_question and agent_id not in found.linked,
        )
        reason = contacts.refusal(facts)
        if reason is None and draft.broadcast and idle_before is not None:
            active = max(last_active, unwritten.get(agent_id, 0))
            reason = contacts.IDLE if active < idle_before else None
        if reason is None:
            admitted.append(recipient)
            if contacts.opens_first_contact(facts):
                first_contacts.append(agent_id)
        else:
            refused.append(Skipped(agent_id, recipient.name, reason))
    if refused and not draft.broadcast:
        raise refusal_error(draft.sender_name, refused)
    return Judgement(tuple(admitted), tuple(refused), tuple(first_contacts))


def refusal_error(sender_name: str, refused: Sequence[Skipped]) -> PermissionDenied:
    """The error of an explicit send that one or more recipients refuse."""
    listed = ",".join(f"{s.name}:{s.reason}" for s in refused)
    first = refused[0]
    hint = {
        contacts.CONTACT_REQUIRED: "ask for contact with RequestContact first",
        contacts.CONTACT_BLOCKED: "the recipient does not accept mail from this sender",
        contacts.AGENT_RETIRED: "the recipient is retired and receives nothing",
    }[first.reason]
    return PermissionDenied(
        first.reason,
        f"{len(refused)} recipient(s) refuse mail from {sender_name} ({listed});"
        f" nothing was sent: {hint}",
        metadata={"refused": listed},
    )
