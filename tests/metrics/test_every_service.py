"""Every service on the endpoint goes through the interceptor and is counted: health (Check,
and Watch, which streams with context.write), reflection v1 and v1alpha (bidi streams) and the
bench ceiling endpoints (raw bytes)."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

STREAMED = 5


async def reflect(channel: grpc.aio.Channel, service: str) -> list[str]:
    call = channel.stream_stream(
        f"/{service}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )(timeout=10)
    for _ in range(2):
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    await call.done_writing()
    return [s.name async for r in call for s in r.list_services_response.service]


async def test_every_service_and_shape_is_served_and_counted(
    tmp_path, start_server, connect, parse_samples, fetch, poll
):
    async with (
        start_server(
            tmp_path / "data", metrics_listen="127.0.0.1:0", ceiling_endpoints=True
        ) as server,
        connect(server.address) as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        checked = await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        watched = await watch.read()
        watch.cancel()
        listed = {
            name: await reflect(channel, name)
            for name in (
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            )
        }
        unary = await channel.unary_unary("/agentmail.bench.Ceiling/Unary")(b"", timeout=10)
        stream = channel.unary_stream("/agentmail.bench.Ceiling/Stream")
        payloads = [p async for p in stream(str(STREAMED).encode(), timeout=10)]

        async def counted():
            samples = parse_samples(
                await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.metrics_port}/metrics")
            )
            return samples if samples.handled("Watch") else None

        # The cancelled Watch is counted once the server has seen the cancellation.
        samples = await poll(counted)

    assert checked.status == watched.status == health_pb2.HealthCheckResponse.SERVING
    # Each of the two answers lists the seven services: ours, health and both reflections.
    assert all(len(names) == 2 * 7 for names in listed.values()), listed
    assert unary == b"" and len(payloads) == STREAMED
    assert samples.handled("Check") == {"OK": 1}
    assert samples.handled("Watch") == {"Canceled": 1}
    assert samples.value("grpc_server_msg_sent_total", grpc_method="Watch") == 1
    reflection = {
        service: samples.value(
            "grpc_server_msg_sent_total", grpc_service=service, grpc_method="ServerReflectionInfo"
        )
        for service in listed
    }
    assert reflection == dict.fromkeys(listed, 2)
    assert samples.handled("Unary") == {"OK": 1}
    assert samples.handled("Stream") == {"OK": 1}
    assert samples.value("grpc_server_msg_sent_total", grpc_method="Stream") == STREAMED
