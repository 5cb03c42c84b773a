"""The client's exception tree, mirroring the server's, and the one place gRPC errors map to it.

::

    AgentmailError                      (base; never raised itself)
    ├── InvalidArgument                 INVALID_ARGUMENT   (field_violations set)
    ├── Unauthenticated                 UNAUTHENTICATED
    ├── PermissionDenied                PERMISSION_DENIED
    ├── NotFound                        NOT_FOUND
    ├── AlreadyExists                   ALREADY_EXISTS
    ├── FailedPrecondition              FAILED_PRECONDITION
    ├── OutOfRange                      OUT_OF_RANGE       (e.g. a cursor past the inbox's end)
    ├── ResourceExhausted               RESOURCE_EXHAUSTED (retry_after often set)
    ├── Unavailable                     UNAVAILABLE        (retry_after often set)
    ├── DeadlineExceeded                DEADLINE_EXCEEDED
    └── ServerError                     anything else (INTERNAL, UNKNOWN, UNIMPLEMENTED, ...)

Branch on the stable ``reason`` (for example ``RECIPIENT_NOT_FOUND``), never on the message
text. The original :class:`grpc.aio.AioRpcError` is kept as ``__cause__``.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import grpc.aio
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "agentmail.dev"
"""The ``ErrorInfo.domain`` of errors raised by an agentmail server."""


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One invalid request field.

    Attributes:
        field: Path of the field, such as ``to[2]`` or ``subject``.
        description: What is wrong with it.
    """

    field: str
    description: str


@dataclasses.dataclass(frozen=True)
class QuotaViolation:
    """One exceeded quota, from ``google.rpc.QuotaFailure``.

    Attributes:
        subject: Whose quota: ``agent:<project>/<name>``, ``peer:<address>`` (a call without a
            known token) or ``recipient:<name>`` (the flood guard).
        description: Which limit, such as ``write tier: 1000 calls per second, burst 2000``.
    """

    subject: str
    description: str


class AgentmailError(Exception):
    """Base of every error a call to the agentmail service raises.

    Attributes:
        code: The gRPC status code.
        message: The human-readable status message.
        reason: Stable UPPER_SNAKE reason from ``google.rpc.ErrorInfo``, or ``None`` when the
            error did not come from the agentmail server itself (for example a message that
            gRPC rejected for its size, or a connection failure).
        domain: ``ErrorInfo.domain`` (``"agentmail.dev"`` for server errors), or ``None``.
        metadata: ``ErrorInfo.metadata``, with lowerCamel keys such as ``missing``.
        field_violations: Invalid request fields from ``google.rpc.BadRequest``.
        retry_after: Seconds to wait before retrying, from ``google.rpc.RetryInfo``, or
            ``None`` when the server gave no hint.
        quota_violations: Exceeded limits from ``google.rpc.QuotaFailure`` (rate limits and
            the flood guard set one).
    """

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode,
        reason: str | None = None,
        domain: str | None = None,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        retry_after: float | None = None,
        quota_violations: Sequence[QuotaViolation] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        # A read-only view: an exception may be shared between tasks that await the same call.
        self.metadata: Mapping[str, str] = types.MappingProxyType(dict(metadata or {}))
        self.field_violations: tuple[FieldViolation, ...] = tuple(field_violations)
        self.retry_after = retry_after
        self.quota_violations: tuple[QuotaViolation, ...] = tuple(quota_violations)

    def __str__(self) -> str:
        label = self.code.name if self.reason is None else f"{self.code.name} {self.reason}"
        return f"[{label}] {self.message}"


class InvalidArgument(AgentmailError):
    """The request is malformed; sending it again unchanged fails again."""


class Unauthenticated(AgentmailError):
    """No agent token, or an unknown one, was presented."""


class PermissionDenied(AgentmailError):
    """The authenticated agent may not do this."""


class NotFound(AgentmailError):
    """A project, agent, message or thread does not exist or is not visible to the caller."""


class AlreadyExists(AgentmailError):
    """What the call would create exists already."""


class FailedPrecondition(AgentmailError):
    """The system is not in a state that allows the request."""


class OutOfRange(AgentmailError):
    """A position, such as a saved cursor, is past the end of what the server holds now."""


class ResourceExhausted(AgentmailError):
    """A limit was reached: the server is overloaded or the message is too large."""


class Unavailable(AgentmailError):
    """The server cannot be reached or is shutting down; retrying later may succeed."""


class DeadlineExceeded(AgentmailError):
    """The call did not complete before its deadline; a write may still have taken effect."""


class ServerError(AgentmailError):
    """Any other failure, such as an internal server error or an unimplemented method."""


_ERROR_FOR_CODE: Mapping[grpc.StatusCode, type[AgentmailError]] = types.MappingProxyType(
    {
        grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
        grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
        grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
        grpc.StatusCode.NOT_FOUND: NotFound,
        grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
        grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
        grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
        grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
        grpc.StatusCode.UNAVAILABLE: Unavailable,
        grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    }
)


def error_class_for(code: grpc.StatusCode) -> type[AgentmailError]:
    """Returns the exception class raised for a gRPC status code.

    Args:
        code: A non-OK gRPC status code.
    """
    return _ERROR_FOR_CODE.get(code, ServerError)


def error_from_rpc(error: grpc.aio.AioRpcError) -> AgentmailError:
    """Converts a failed gRPC call into the most specific :class:`AgentmailError`.

    The rich details (``ErrorInfo``, ``BadRequest``, ``RetryInfo``, ``QuotaFailure``) are
    decoded from the ``grpc-status-details-bin`` trailer when present; errors produced by gRPC
    itself carry none.

    Args:
        error: The error a ``grpc.aio`` call raised.

    Returns:
        The exception to raise; the caller should chain ``error`` as its cause.
    """
    code = error.code()
    message = error.details() or ""
    status = _rich_status(error)
    reason: str | None = None
    domain: str | None = None
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry_after: float | None = None
    quotas: list[QuotaViolation] = []
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        retry_info = error_details_pb2.RetryInfo()
        quota_failure = error_details_pb2.QuotaFailure()
        if detail.Unpack(info):
            # AIP-193 promises one ErrorInfo; should there be more, the first one wins.
            if reason is None:
                reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Unpack(bad_request):
            violations.extend(
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            )
        elif detail.Unpack(retry_info):
            retry_after = retry_info.retry_delay.ToTimedelta().total_seconds()
        elif detail.Unpack(quota_failure):
            quotas.extend(
                QuotaViolation(v.subject, v.description) for v in quota_failure.violations
            )
    return error_class_for(code)(
        message,
        code=code,
        reason=reason,
        domain=domain,
        metadata=metadata,
        field_violations=violations,
        retry_after=retry_after,
        quota_violations=quotas,
    )


def _rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """Returns the ``google.rpc.Status`` of an error, or None when it carries none."""
    try:
        # grpc_status is untyped; pin the result to the type it documents.
        status: Any = rpc_status.from_call(error)
    except ValueError:
        # The trailer disagrees with the status itself (e.g. a proxy rewrote the message):
        # keep what the status says and drop the details rather than fail the mapping.
        return None
    return status if isinstance(status, status_pb2.Status) else None
