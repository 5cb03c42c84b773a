"""Standard services: gRPC health checking (Check, Watch, and a channel with client-side
health checking on) and server reflection, under both v1 and v1alpha."""

from __future__ import annotations

import contextlib
import json

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

# Reflection clients (grpcurl and others) ask for v1 first and fall back to v1alpha. The two
# protocols are the same messages under another package, so v1alpha's classes read both.
REFLECTION_SERVICES = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
]

AGENTMAIL_SERVICES = [
    "agentmail.v1.AgentService",
    "agentmail.v1.MailService",
    "agentmail.v1.ReservationService",
    "agentmail.v1.SearchService",
]


@pytest.mark.parametrize("service", ["", *AGENTMAIL_SERVICES])
async def test_health_reports_serving(channel, service):
    stub = health_pb2_grpc.HealthStub(channel)

    response = await stub.Check(health_pb2.HealthCheckRequest(service=service))

    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_check_of_an_unknown_service_is_not_found(channel):
    stub = health_pb2_grpc.HealthStub(channel)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("service", ["", "agentmail.v1.MailService", "no.such.Service"])
async def test_health_watch_streams_the_status(channel, service):
    stub = health_pb2_grpc.HealthStub(channel)
    expected = (
        health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        if service == "no.such.Service"
        else health_pb2.HealthCheckResponse.SERVING
    )

    call = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=10)
    first = await call.read()
    call.cancel()

    assert first.status == expected


async def test_watch_ends_with_not_serving_when_the_server_stops(start_server, connect, tmp_path):
    async with start_server(tmp_path / "data") as server, connect(server.address) as channel:
        call = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=30
        )
        assert (await call.read()).status == health_pb2.HealthCheckResponse.SERVING
        await server.stop()
        statuses = []
        # The server cancels the stream as it stops, after it has sent NOT_SERVING.
        with contextlib.suppress(grpc.aio.AioRpcError):
            while (response := await call.read()) is not grpc.aio.EOF:
                statuses.append(response.status)

    assert statuses[-1:] == [health_pb2.HealthCheckResponse.NOT_SERVING]


async def test_a_channel_with_client_side_health_checking_makes_calls(server):
    # gRPC's standard client-side health checking: the channel watches the server's health
    # (Health/Watch) and only sends calls while it is SERVING.
    config = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": "agentmail.v1.AgentService"},
    }
    options = [("grpc.service_config", json.dumps(config)), ("grpc.enable_retries", 0)]
    async with grpc.aio.insecure_channel(server.address, options=options) as channel:
        stub = agent_service_pb2_grpc.AgentServiceStub(channel)
        created = await stub.EnsureProject(
            apb.EnsureProjectRequest(human_key="/health/checked"), timeout=10
        )
        again = await stub.EnsureProject(
            apb.EnsureProjectRequest(human_key="/health/checked"), timeout=10
        )

    assert created.created is True
    assert again.created is False


async def reflect(
    channel, service: str = REFLECTION_SERVICES[1], **request_fields
) -> reflection_pb2.ServerReflectionResponse:
    call = channel.stream_stream(
        f"/{service}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )()
    await call.write(reflection_pb2.ServerReflectionRequest(**request_fields))
    await call.done_writing()
    responses = [response async for response in call]
    assert len(responses) == 1
    return responses[0]


@pytest.mark.parametrize("reflection", REFLECTION_SERVICES)
async def test_reflection_lists_every_service(channel, reflection):
    response = await reflect(channel, reflection, list_services="")

    names = sorted(s.name for s in response.list_services_response.service)
    assert names == sorted([*AGENTMAIL_SERVICES, "grpc.health.v1.Health", *REFLECTION_SERVICES])


@pytest.mark.parametrize("reflection", REFLECTION_SERVICES)
async def test_reflection_describes_both_reflection_services(channel, reflection):
    for symbol in REFLECTION_SERVICES:
        response = await reflect(channel, reflection, file_containing_symbol=symbol)

        files = [
            descriptor_pb2.FileDescriptorProto.FromString(raw)
            for raw in response.file_descriptor_response.file_descriptor_proto
        ]
        package, _, name = symbol.rpartition(".")
        (described,) = [s for f in files if f.package == package for s in f.service]
        assert described.name == name
        assert [m.input_type for m in described.method] == [f".{package}.ServerReflectionRequest"]


@pytest.mark.parametrize(
    ("symbol", "methods"),
    [
        ("agentmail.v1.MailService", {"SendMessage", "ListInbox", "SubscribeInbox"}),
        ("agentmail.v1.AgentService", {"EnsureProject", "RegisterAgent", "UpdateAgent"}),
        ("agentmail.v1.SearchService", {"SearchMessages"}),
    ],
)
@pytest.mark.parametrize("reflection", REFLECTION_SERVICES)
async def test_reflection_describes_agentmail_services(channel, symbol, methods, reflection):
    response = await reflect(channel, reflection, file_containing_symbol=symbol)

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
