"""Mapping of real gRPC errors carrying ``google.rpc.Status`` details to the exception tree."""

from __future__ import annotations

import agentmail_client as am
import grpc
import grpc.aio
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

DETAILS_KEY = "grpc-status-details-bin"


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def rpc_error(
    code: grpc.StatusCode,
    message: str,
    *details: object,
    status_code: int | None = None,
) -> grpc.aio.AioRpcError:
    """A real AioRpcError whose trailer carries a google.rpc.Status, as the server sends it."""
    status = status_pb2.Status(
        code=code.value[0] if status_code is None else status_code,
        message=message,
        details=[_pack(d) for d in details],
    )
    trailing = grpc.aio.Metadata((DETAILS_KEY, status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=message)


def error_info(reason: str, **metadata: str) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain="agentmail.dev", metadata=metadata)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, am.InvalidArgument),
        (grpc.StatusCode.UNAUTHENTICATED, am.Unauthenticated),
        (grpc.StatusCode.PERMISSION_DENIED, am.PermissionDenied),
        (grpc.StatusCode.NOT_FOUND, am.NotFound),
        (grpc.StatusCode.ALREADY_EXISTS, am.AlreadyExists),
        (grpc.StatusCode.FAILED_PRECONDITION, am.FailedPrecondition),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, am.ResourceExhausted),
        (grpc.StatusCode.UNAVAILABLE, am.Unavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, am.DeadlineExceeded),
        (grpc.StatusCode.INTERNAL, am.ServerError),
        (grpc.StatusCode.UNKNOWN, am.ServerError),
        (grpc.StatusCode.UNIMPLEMENTED, am.ServerError),
        (grpc.StatusCode.CANCELLED, am.ServerError),
    ],
)
def test_each_status_code_maps_to_its_exception_class(
    code: grpc.StatusCode, expected: type[am.AgentmailError]
) -> None:
    error = am.error_from_rpc(rpc_error(code, "boom", error_info("SOME_REASON")))
    assert type(error) is expected
    assert isinstance(error, am.AgentmailError)
    assert am.error_class_for(code) is expected
    assert error.code is code
    assert error.message == "boom"


def test_error_info_gives_reason_domain_and_metadata() -> None:
    exc = rpc_error(
        grpc.StatusCode.NOT_FOUND,
        "unknown recipients: Zed, Ann",
        error_info("RECIPIENT_NOT_FOUND", missing="Zed,Ann"),
    )
    error = am.error_from_rpc(exc)
    assert isinstance(error, am.NotFound)
    assert error.reason == "RECIPIENT_NOT_FOUND"
    assert error.domain == "agentmail.dev"
    assert dict(error.metadata) == {"missing": "Zed,Ann"}
    assert error.field_violations == ()
    assert error.retry_after is None
    assert str(error) == "[NOT_FOUND RECIPIENT_NOT_FOUND] unknown recipients: Zed, Ann"


def test_bad_request_gives_field_violations() -> None:
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="to[2]", description="empty name"),
            error_details_pb2.BadRequest.FieldViolation(field="subject", description="too long"),
        ]
    )
    exc = rpc_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        "to[2]: empty name; subject: too long",
        error_info("SUBJECT_TOO_LONG"),
        bad_request,
    )
    error = am.error_from_rpc(exc)
    assert isinstance(error, am.InvalidArgument)
    assert error.reason == "SUBJECT_TOO_LONG"
    assert error.field_violations == (
        am.FieldViolation("to[2]", "empty name"),
        am.FieldViolation("subject", "too long"),
    )


def test_retry_info_gives_retry_after_in_seconds() -> None:
    retry_info = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000)
    )
    exc = rpc_error(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "write queue full",
        error_info("WRITER_OVERLOADED"),
        retry_info,
    )
    error = am.error_from_rpc(exc)
    assert isinstance(error, am.ResourceExhausted)
    assert error.reason == "WRITER_OVERLOADED"
    assert error.retry_after == 1.5


def test_error_without_details_maps_by_code_alone() -> None:
    # gRPC itself rejects an oversized message this way: no agentmail details at all.
    exc = grpc.aio.AioRpcError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="Received message larger than max",
    )
    error = am.error_from_rpc(exc)
    assert isinstance(error, am.ResourceExhausted)
    assert error.reason is None
    assert error.domain is None
    assert dict(error.metadata) == {}
    assert str(error) == "[RESOURCE_EXHAUSTED] Received message larger than max"


def test_details_that_contradict_the_status_are_ignored_not_fatal() -> None:
    exc = rpc_error(
        grpc.StatusCode.NOT_FOUND,
        "gone",
        error_info("PROJECT_NOT_FOUND"),
        status_code=code_pb2.INTERNAL,
    )
    error = am.error_from_rpc(exc)
    assert isinstance(error, am.NotFound)
    assert error.reason is None


def test_unknown_detail_types_are_skipped() -> None:
    exc = rpc_error(
        grpc.StatusCode.UNAVAILABLE,
        "shutting down",
        error_details_pb2.DebugInfo(detail="x"),
        error_info("SHUTTING_DOWN"),
    )
    error = am.error_from_rpc(exc)
    assert isinstance(error, am.Unavailable)
    assert error.reason == "SHUTTING_DOWN"


def test_metadata_is_read_only() -> None:
    error = am.error_from_rpc(
        rpc_error(grpc.StatusCode.NOT_FOUND, "x", error_info("AGENT_NOT_FOUND", name="Bob"))
    )
    with pytest.raises(TypeError):
        error.metadata["name"] = "Eve"  # type: ignore[index]
