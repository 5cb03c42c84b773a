"""The one exception tree of the server. The rpc layer maps it to gRPC status codes.

::

    AgentmailError                      (never raised itself)
    ├── InvalidArgument                 INVALID_ARGUMENT   + BadRequest field violations
    ├── Unauthenticated                 UNAUTHENTICATED
    ├── PermissionDenied                PERMISSION_DENIED
    ├── NotFound                        NOT_FOUND
    ├── AlreadyExists                   ALREADY_EXISTS
    ├── FailedPrecondition              FAILED_PRECONDITION
    ├── OutOfRange                      OUT_OF_RANGE       (a position past the end)
    ├── ResourceExhausted               RESOURCE_EXHAUSTED + RetryInfo (+ QuotaFailure)
    ├── Unavailable                     UNAVAILABLE        + RetryInfo (shutting down)
    └── Unimplemented                   UNIMPLEMENTED      (declared, not served yet)

Every error carries a stable UPPER_SNAKE ``reason`` (sent as ``google.rpc.ErrorInfo``) so that
clients can branch on it without parsing messages, and ``metadata`` with lowerCamel keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

ERROR_DOMAIN = "agentmail.dev"


@dataclasses.dataclass(frozen=True)
class QuotaViolation:
    """One exceeded quota (sent as ``google.rpc.QuotaFailure``): whose, and which limit."""

    subject: str
    description: str


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One bad request field: its path (``to[3]``) and what is wrong with it."""

    field: str
    description: str


class AgentmailError(Exception):
    """Base of every error the service reports to callers."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
        retry_after_seconds: float | None = None,
        quota_violations: Sequence[QuotaViolation] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})
        self.violations: tuple[FieldViolation, ...] = tuple(violations)
        self.retry_after_seconds = retry_after_seconds
        self.quota_violations: tuple[QuotaViolation, ...] = tuple(quota_violations)


class InvalidArgument(AgentmailError):
    """The request is malformed; retrying it unchanged will fail again."""

    def __init__(
        self,
        violations: Sequence[FieldViolation],
        *,
        reason: str = "INVALID_ARGUMENT",
        message: str | None = None,
    ) -> None:
        text = message or "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(reason, text, violations=violations)


def invalid(field: str, description: str, reason: str = "INVALID_ARGUMENT") -> InvalidArgument:
    """Shorthand for an InvalidArgument about one field."""
    return InvalidArgument([FieldViolation(field, description)], reason=reason)


class Unauthenticated(AgentmailError):
    """No valid agent token was presented."""


class PermissionDenied(AgentmailError):
    """The authenticated agent may not do this."""


class NotFound(AgentmailError):
    """A named project, agent, message or thread does not exist (or is not visible)."""


class AlreadyExists(AgentmailError):
    """The thing to create exists already."""


class FailedPrecondition(AgentmailError):
    """The system is not in a state that allows this request."""


class OutOfRange(AgentmailError):
    """A position (such as a cursor) is past the end of what exists now; unlike
    InvalidArgument, the same request may succeed once the state has changed."""


class ResourceExhausted(AgentmailError):
    """A server-side limit is reached; retry after ``retry_after_seconds``."""


class Unavailable(AgentmailError):
    """The server is shutting down or cannot serve now; retry elsewhere or later."""


class Unimplemented(AgentmailError):
    """The method is part of the contract but this server does not serve it yet."""
