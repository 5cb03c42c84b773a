"""Request bytes that do not parse get INVALID_ARGUMENT (MALFORMED_REQUEST), for every method
of every service the server offers (tests/metrics counts them and checks the log)."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2, search_service_pb2
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

# A field 1 tag announcing a length-delimited value of 2**63 bytes: no message parses it.
BAD_PROTOBUF = b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x7f"
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def _methods() -> list[tuple[str, MethodDescriptor]]:
    """``(full path, descriptor)`` of every method served, reflection under both names."""
    services = [
        apb.DESCRIPTOR.services_by_name["AgentService"],
        mail_service_pb2.DESCRIPTOR.services_by_name["MailService"],
        search_service_pb2.DESCRIPTOR.services_by_name["SearchService"],
        health_pb2.DESCRIPTOR.services_by_name["Health"],
        reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
    ]
    found = [(f"/{s.full_name}/{m.name}", m) for s in services for m in s.methods]
    reflection = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]
    found += [(f"/{REFLECTION_V1}/{m.name}", m) for m in reflection.methods]
    return found


METHODS = _methods()


async def _call_raw(channel: grpc.aio.Channel, path: str, method: MethodDescriptor, raw: bytes):
    """Send ``raw`` as the (only) request message of ``path``, whatever its shape."""
    if method.client_streaming:

        async def one():
            yield raw

        call = channel.stream_stream(path)(one(), timeout=10)
        return [response async for response in call]
    if method.server_streaming:
        return [response async for response in channel.unary_stream(path)(raw, timeout=10)]
    return await channel.unary_unary(path)(raw, timeout=10)


@pytest.mark.parametrize(("path", "method"), METHODS, ids=[path for path, _ in METHODS])
async def test_unparseable_bytes_are_invalid_argument(channel, path, method, expect_error):
    failure = await expect_error(
        _call_raw(channel, path, method, BAD_PROTOBUF),
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
        field="request",
    )

    assert method.input_type.full_name in failure.message


def _string_field(message: type, name: str, value: bytes) -> bytes:
    """The wire bytes of ``message`` with only string field ``name`` set to raw ``value``."""
    number = message.DESCRIPTOR.fields_by_name[name].number
    assert len(value) < 128
    return bytes([(number << 3) | 2, len(value)]) + value


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        (
            "/agentmail.v1.AgentService/EnsureProject",
            _string_field(apb.EnsureProjectRequest, "human_key", b"/p\xff\xfe"),
        ),
        (
            "/agentmail.v1.MailService/SendMessage",
            _string_field(mail_service_pb2.SendMessageRequest, "subject", b"hi \xc3\x28"),
        ),
        (
            "/grpc.health.v1.Health/Check",
            _string_field(health_pb2.HealthCheckRequest, "service", b"\x80"),
        ),
    ],
    ids=["EnsureProject", "SendMessage", "Health.Check"],
)
async def test_invalid_utf8_in_a_string_field_is_invalid_argument(channel, path, raw, expect_error):
    await expect_error(
        channel.unary_unary(path)(raw, timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
        field="request",
    )
