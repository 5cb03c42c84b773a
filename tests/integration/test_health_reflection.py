"""Standard services: gRPC health checking and server reflection."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

AGENTMAIL_SERVICES = [
    "agentmail.v1.AgentService",
    "agentmail.v1.MailService",
    "agentmail.v1.SearchService",
]


@pytest.mark.parametrize("service", ["", *AGENTMAIL_SERVICES])
async def test_health_reports_serving(channel, service):
    stub = health_pb2_grpc.HealthStub(channel)

    response = await stub.Check(health_pb2.HealthCheckRequest(service=service))

    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def reflect(channel, **request_fields) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(**request_fields))
    await call.done_writing()
    responses = [response async for response in call]
    assert len(responses) == 1
    return responses[0]


async def test_reflection_lists_every_service(channel):
    response = await reflect(channel, list_services="")

    names = sorted(s.name for s in response.list_services_response.service)
    assert names == sorted(
        [
            *AGENTMAIL_SERVICES,
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    )


@pytest.mark.parametrize(
    ("symbol", "methods"),
    [
        ("agentmail.v1.MailService", {"SendMessage", "ListInbox", "SubscribeInbox"}),
        ("agentmail.v1.AgentService", {"EnsureProject", "RegisterAgent", "UpdateAgent"}),
        ("agentmail.v1.SearchService", {"SearchMessages"}),
    ],
)
async def test_reflection_describes_agentmail_services(channel, symbol, methods):
    response = await reflect(channel, file_containing_symbol=symbol)

    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in response.file_descriptor_response.file_descriptor_proto
    ]
    short_name = symbol.rsplit(".", 1)[1]
    described = {
        m.name
        for f in files
        if f.package == "agentmail.v1"
        for s in f.service
        if s.name == short_name
        for m in s.method
    }
    assert methods <= described


async def test_health_check_of_an_unknown_service_is_not_found(channel):
    stub = health_pb2_grpc.HealthStub(channel)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Check(health_pb2.HealthCheckRequest(service="agentmail.v1.NoSuchService"))

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
