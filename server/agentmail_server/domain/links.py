"""What the contact use cases ask storage for, and what a request reports back."""

from __future__ import annotations

import dataclasses

from agentmail_server.domain.contacts import ContactLink
from agentmail_server.domain.drafts import Sent
from agentmail_server.domain.notices import Notice


@dataclasses.dataclass(frozen=True, slots=True)
class ContactRequest:
    """A validated RequestContact: requester, target (same project) and the pending link's
    reason and lifetime."""

    project_id: int
    from_id: int
    from_name: str
    to_id: int
    to_name: str
    reason: str
    ttl_micros: int


@dataclasses.dataclass(frozen=True, slots=True)
class ContactResponse:
    """A validated RespondContact: the link from ``from_id`` to the responder ``to_id``."""

    project_id: int
    from_id: int
    to_id: int
    approve: bool
    ttl_micros: int


@dataclasses.dataclass(frozen=True, slots=True)
class RequestOutcome:
    """The requester's link after RequestContact; ``sent`` is the message that told the target
    and ``notices`` its REQUESTED event (None and empty when it was not told again: a
    refreshed, approved or blocked link)."""

    link: ContactLink
    notified: bool
    sent: Sent | None
    notices: tuple[Notice, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseOutcome:
    """The link after RespondContact and the APPROVED or BLOCKED event told to the requester."""

    link: ContactLink
    notices: tuple[Notice, ...]
