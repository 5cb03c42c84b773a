"""Which rate-limit tier every RPC the server serves belongs to: the one table.

A test walks every service descriptor the endpoint serves and fails for a method missing here,
so a new RPC cannot ship unlimited by accident. ``EXEMPT`` is a choice, not a default: health
checks (load balancers poll them), reflection (tools) and the benchmark ceiling.
"""

from __future__ import annotations

import enum


class Tier(enum.Enum):
    """A family of calls sharing one bucket per caller."""

    WRITE = "write"
    READ = "read"
    SEARCH = "search"
    STREAM = "stream"
    EXEMPT = "exempt"


_AGENT = "/agentmail.v1.AgentService/"
_MAIL = "/agentmail.v1.MailService/"
_SEARCH = "/agentmail.v1.SearchService/"
_RESERVATION = "/agentmail.v1.ReservationService/"

TIER_BY_METHOD: dict[str, Tier] = {
    # AgentService: registration, profile, contacts and lifecycle change state.
    _AGENT + "EnsureProject": Tier.WRITE,
    _AGENT + "RegisterAgent": Tier.WRITE,
    _AGENT + "UpdateAgent": Tier.WRITE,
    _AGENT + "SetContactPolicy": Tier.WRITE,
    _AGENT + "RequestContact": Tier.WRITE,
    _AGENT + "RespondContact": Tier.WRITE,
    _AGENT + "RetireAgent": Tier.WRITE,
    _AGENT + "UnretireAgent": Tier.WRITE,
    _AGENT + "RotateToken": Tier.WRITE,
    _AGENT + "RevokeTokens": Tier.WRITE,
    _AGENT + "GetProject": Tier.READ,
    _AGENT + "ListProjects": Tier.READ,
    _AGENT + "GetAgent": Tier.READ,
    _AGENT + "ListAgents": Tier.READ,
    _AGENT + "ListContacts": Tier.READ,
    # MailService.
    _MAIL + "SendMessage": Tier.WRITE,
    # Charged one token per message it carries (see rpc.admission).
    _MAIL + "SendMessages": Tier.WRITE,
    _MAIL + "ReplyMessage": Tier.WRITE,
    _MAIL + "MarkRead": Tier.WRITE,
    _MAIL + "AcknowledgeMessage": Tier.WRITE,
    _MAIL + "GetMessage": Tier.READ,
    _MAIL + "ListInbox": Tier.READ,
    _MAIL + "ListOutbox": Tier.READ,
    _MAIL + "GetThread": Tier.READ,
    _MAIL + "SummarizeThread": Tier.READ,
    _MAIL + "ListPendingAcks": Tier.READ,
    _MAIL + "ListUnacknowledged": Tier.READ,
    _MAIL + "SubscribeInbox": Tier.STREAM,
    # SearchService.
    _SEARCH + "SearchMessages": Tier.SEARCH,
    # ReservationService: taking, renewing and releasing change state; the conflict check is a
    # question (a pre-commit hook asks it on every commit).
    _RESERVATION + "ReservePaths": Tier.WRITE,
    _RESERVATION + "RenewReservations": Tier.WRITE,
    _RESERVATION + "ReleaseReservations": Tier.WRITE,
    _RESERVATION + "ForceReleaseReservation": Tier.WRITE,
    _RESERVATION + "CheckConflicts": Tier.READ,
    _RESERVATION + "ListReservations": Tier.READ,
    # Infrastructure.
    "/grpc.health.v1.Health/Check": Tier.EXEMPT,
    "/grpc.health.v1.Health/Watch": Tier.EXEMPT,
    "/grpc.health.v1.Health/List": Tier.EXEMPT,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": Tier.EXEMPT,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": Tier.EXEMPT,
    "/agentmail.bench.Ceiling/Unary": Tier.EXEMPT,
    "/agentmail.bench.Ceiling/Stream": Tier.EXEMPT,
}


def tier_of(method: str) -> Tier:
    """The tier of ``/pkg.Service/Method``; a method missing from the table is limited as a
    write (the strictest tier), and the table's test fails for it."""
    return TIER_BY_METHOD.get(method, Tier.WRITE)
