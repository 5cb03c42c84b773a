"""What the contact use cases ask storage for, what a request reports back, and what both
backends' contact writes build alike (the introduction mail, the refusal error)."""

from __future__ import annotations

import dataclasses

from agentmail_server.domain.contacts import ContactLink, ContactPolicy, ContactState
from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.events import CommitBuilder
from agentmail_server.domain.models import Importance, Recipient, RecipientKind
from agentmail_server.domain.notices import Notice
from agentmail_server.errors import PermissionDenied


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


def introduction(request: ContactRequest) -> Draft:
    """The ordinary message that tells the target of a request. It is composed by the server,
    so it is not judged by the target's policy (the request itself was), and it counts as no
    exchange of mail: asking must not open the AUTO window."""
    body = (
        f"{request.from_name} asks to contact you.\n\n"
        f"Reason: {request.reason or '(none given)'}\n\n"
        f"Answer with RespondContact(from_agent={request.from_name!r}, approve=true or false)."
    )
    return Draft(
        project_id=request.project_id,
        sender_id=request.from_id,
        sender_name=request.from_name,
        recipients=(Recipient(request.to_id, request.to_name, RecipientKind.TO),),
        subject=f"Contact request from {request.from_name}",
        body=body,
        importance=Importance.NORMAL,
        ack_required=True,
        thread_id="",
        topic="contact",
        idempotency_key="",
        rules=None,
    )


def request_refused(reason: str, name: str, why: str) -> PermissionDenied:
    """The error of a contact request the target refuses (AGENT_RETIRED, CONTACT_BLOCKED)."""
    return PermissionDenied(
        reason, f"agent {name!r} {why}", metadata={"refused": f"{name}:{reason}"}
    )


def record_request(changes: CommitBuilder, outcome: RequestOutcome) -> None:
    """What a committed contact request adds to its commit (either backend): the
    introduction mail, if one was sent, and the target's event."""
    if outcome.sent is not None:
        changes.sent(outcome.sent)
    changes.notices.extend(outcome.notices)


def record_response(changes: CommitBuilder, outcome: ResponseOutcome) -> None:
    """What a committed contact answer adds to its commit: the requester's event."""
    changes.notices.extend(outcome.notices)


def request_verdict(
    request: ContactRequest,
    target_retired: bool,
    target_policy: ContactPolicy,
    existing: ContactLink | None,
    now: int,
) -> bool | None:
    """What a contact request does, on the facts either backend read in its transaction:
    None to return ``existing`` unchanged (an approved, unexpired link), else whether the
    target is told (a new request, or the previous one lapsed) after the link is refreshed.

    Raises:
        PermissionDenied: AGENT_RETIRED (the target is retired) or CONTACT_BLOCKED (it blocks
            everyone, or blocked the requester).
    """
    if target_retired:
        raise request_refused("AGENT_RETIRED", request.to_name, "is retired and receives nothing")
    blocked = existing is not None and existing.state is ContactState.BLOCKED
    if target_policy is ContactPolicy.BLOCK_ALL or blocked:
        raise request_refused(
            "CONTACT_BLOCKED", request.to_name, "does not accept contact requests"
        )
    if existing is not None and existing.state_at(now) is ContactState.APPROVED:
        return None
    return existing is None or existing.state_at(now) is ContactState.EXPIRED
