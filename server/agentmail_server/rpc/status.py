"""The one table from the exception tree to gRPC status codes, with rich error details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from agentmail_server import errors

# Errors echo caller input (slugs, names, ids), and a status travels in trailers: past gRPC's
# metadata limit (8 KiB by default, a soft limit that rejects at random up to the 16 KiB hard
# one) the client gets RESOURCE_EXHAUSTED with details contradicting the code, or none. Each part
# is clipped (in UTF-8 bytes) so the whole stays under about 7 KiB, even percent-encoded.
MAX_MESSAGE_BYTES = 512
MAX_METADATA_VALUE_BYTES = 256
MAX_VIOLATIONS = 8
MAX_FIELD_BYTES = 64
MAX_DESCRIPTION_BYTES = 200
ELLIPSIS = "…"

STATUS_BY_ERROR: dict[type[errors.AgentmailError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
}


def status_code_for(error: errors.AgentmailError) -> grpc.StatusCode:
    """The gRPC status code of an error (by its most specific class in the table)."""
    for cls in type(error).__mro__:
        code = STATUS_BY_ERROR.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (on a character boundary), ending in
    an ellipsis when cut."""
    encoded = text.encode("utf-8", "backslashreplace")
    if len(encoded) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    return encoded[:room].decode("utf-8", "ignore") + ELLIPSIS


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_status(error: errors.AgentmailError) -> grpc.Status:
    """A grpc.Status carrying ErrorInfo, and BadRequest / QuotaFailure / RetryInfo where they
    apply."""
    code = status_code_for(error)
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason,
                domain=errors.ERROR_DOMAIN,
                metadata={
                    key: clip(value, MAX_METADATA_VALUE_BYTES)
                    for key, value in error.metadata.items()
                },
            )
        )
    ]
    if error.violations:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=clip(v.field, MAX_FIELD_BYTES),
                            description=clip(v.description, MAX_DESCRIPTION_BYTES),
                        )
                        for v in error.violations[:MAX_VIOLATIONS]
                    ]
                )
            )
        )
    if error.quota_violations:
        details.append(
            _pack(
                error_details_pb2.QuotaFailure(
                    violations=[
                        error_details_pb2.QuotaFailure.Violation(
                            subject=clip(v.subject, MAX_FIELD_BYTES * 2),
                            description=clip(v.description, MAX_DESCRIPTION_BYTES),
                        )
                        for v in error.quota_violations[:MAX_VIOLATIONS]
                    ]
                )
            )
        )
    if error.retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after_seconds * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    status = status_pb2.Status(
        code=code.value[0], message=clip(error.message, MAX_MESSAGE_BYTES), details=details
    )
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


def internal_status(request_id: str) -> grpc.Status:
    """What a caller sees for a bug: INTERNAL with the request id to quote, no internals."""
    status = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error (request id {request_id})",
        details=[
            _pack(
                error_details_pb2.ErrorInfo(
                    reason="INTERNAL",
                    domain=errors.ERROR_DOMAIN,
                    metadata={"requestId": request_id},
                )
            )
        ],
    )
    converted: grpc.Status = rpc_status.to_status(status)
    return converted
