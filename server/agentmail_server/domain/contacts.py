"""Contact policies: who may message whom, and the pure rule that decides it.

The rule (:func:`refusal`) is a function of facts the storage gathers inside the transaction
that stores a message, so a send is judged on the state it commits against. Order, first match
wins:

1. A retired recipient refuses everything (AGENT_RETIRED): it receives nothing.
2. Always allowed: the sender itself; an agent taking part in the thread the message joins
   (both sent or received a message of it: the sender alone naming a thread proves nothing);
   an agent holding a reservation that overlaps one of the sender's.
3. A link the recipient blocked refuses (CONTACT_BLOCKED) under every policy: a block is an
   explicit answer to this sender and outranks a general policy such as OPEN.
4. The recipient's policy: OPEN allows; BLOCK_ALL refuses (CONTACT_BLOCKED); AUTO allows when
   mail passed between the two (either direction) within the auto window, when an approved,
   unexpired link joins them, or on a first contact (below); CONTACTS_ONLY allows only that
   approved link; else CONTACT_REQUIRED.

A **first contact** under AUTO is a send between two agents of the project that no link joins
in either direction (never requested, approved, blocked or auto-approved). It is delivered and
opens an approved link from the sender to the recipient, with the approval's default lifetime
and the reason ``first contact``: the peers' "auto handshake" on send, made visible (the
recipient sees it in ListContacts and can block the sender at any time). This is how a fleet of
freshly registered agents coordinates under the default policy without a handshake per pair,
while AUTO still refuses what the issue says it refuses: a pair whose approval expired and whose
mail went quiet longer than the window, a pending request not yet answered, a block.

Approved links count in either direction: one agent asked and the other approved, so both
consented to talk (the issue's "approved contacts" are mutual). Importance and ack_required are
not facts here at all, so they cannot bypass anything.
"""

from __future__ import annotations

import dataclasses
import enum

CONTACT_REQUIRED = "CONTACT_REQUIRED"
CONTACT_BLOCKED = "CONTACT_BLOCKED"
AGENT_RETIRED = "AGENT_RETIRED"
# A broadcast also skips agents with no activity within the broadcast idle time.
IDLE = "IDLE"
# The reason recorded on the link a first contact opens.
FIRST_CONTACT_REASON = "first contact"

MAX_CONTACT_REASON_CHARS = 500
DEFAULT_REQUEST_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_APPROVAL_TTL_SECONDS = 30 * 24 * 3600
MAX_CONTACT_TTL_SECONDS = 365 * 24 * 3600


class ContactPolicy(enum.IntEnum):
    """Who may message an agent; values match the wire enum."""

    OPEN = 1
    AUTO = 2
    CONTACTS_ONLY = 3
    BLOCK_ALL = 4

    @classmethod
    def parse(cls, text: str) -> ContactPolicy:
        """The policy named ``text`` (``open``, ``auto``, ``contacts_only``, ``block_all``).

        Raises:
            ValueError: not a policy name.
        """
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(policy.name.lower() for policy in cls)
            raise ValueError(f"contact policy must be one of {names}, got {text!r}") from None


class ContactState(enum.IntEnum):
    """The stored state of a link; values match the wire enum (EXPIRED is only reported)."""

    PENDING = 1
    APPROVED = 2
    BLOCKED = 3
    EXPIRED = 4


@dataclasses.dataclass(frozen=True, slots=True)
class ContactLink:
    """A directed link: ``from_name`` asked ``to_name`` (who approves or blocks).

    ``state`` is as stored; :meth:`state_at` reports EXPIRED once ``expires_at`` has passed.
    """

    id: int
    project_id: int
    from_id: int
    from_name: str
    to_id: int
    to_name: str
    state: ContactState
    reason: str
    expires_at: int | None
    created_at: int
    updated_at: int

    def state_at(self, now: int) -> ContactState:
        """The state as of ``now``: pending and approved links lapse at their expiry."""
        lapsed = self.expires_at is not None and self.expires_at <= now
        if lapsed and self.state in (ContactState.PENDING, ContactState.APPROVED):
            return ContactState.EXPIRED
        return self.state


@dataclasses.dataclass(frozen=True, slots=True)
class SendRules:
    """The server's contact settings a send is judged by (from the configuration).

    Attributes:
        default_policy: the policy of agents that never set one.
        auto_window_micros: how recent an exchange of mail must be for AUTO to allow.
        broadcast_idle_micros: a broadcast skips agents idle longer than this; 0 never.
        first_contact_micros: how long the link a first contact opens stays approved.
    """

    default_policy: ContactPolicy = ContactPolicy.AUTO
    auto_window_micros: int = 86400 * 1_000_000
    broadcast_idle_micros: int = 0
    first_contact_micros: int = DEFAULT_APPROVAL_TTL_SECONDS * 1_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class RecipientFacts:
    """What the rule needs to know about one recipient, relative to the sender."""

    is_self: bool
    retired: bool
    policy: ContactPolicy
    in_thread: bool = False
    reservation_peer: bool = False
    blocked_sender: bool = False
    approved_link: bool = False
    recent_exchange: bool = False
    # No link joins the two in either direction (whatever its state).
    unlinked: bool = False


def opens_first_contact(facts: RecipientFacts) -> bool:
    """Whether delivering to this recipient is a first contact (and opens a link)."""
    return (
        facts.unlinked
        and facts.policy is ContactPolicy.AUTO
        and refusal(dataclasses.replace(facts, unlinked=False)) == CONTACT_REQUIRED
    )


def refusal(facts: RecipientFacts) -> str | None:
    """Why the recipient refuses the sender's mail (a reason above), or None to deliver."""
    if facts.retired:
        return AGENT_RETIRED
    if facts.is_self or facts.in_thread or facts.reservation_peer:
        return None
    if facts.blocked_sender:
        return CONTACT_BLOCKED
    if facts.policy is ContactPolicy.OPEN:
        return None
    if facts.policy is ContactPolicy.BLOCK_ALL:
        return CONTACT_BLOCKED
    if facts.approved_link:
        return None
    if facts.policy is ContactPolicy.AUTO and (facts.recent_exchange or facts.unlinked):
        return None
    return CONTACT_REQUIRED


@dataclasses.dataclass(frozen=True, slots=True)
class Skipped:
    """A broadcast recipient left out, and why (a reason above, or IDLE)."""

    agent_id: int
    name: str
    reason: str
