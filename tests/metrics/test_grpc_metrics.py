"""The grpc_server_* families count every call by method and status code, time it, and count
the messages of streams."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as mpb

MAIL = "agentmail.v1.MailService"


async def register(metrics, project: str, name: str):
    response = await metrics.agents.RegisterAgent(
        apb.RegisterAgentRequest(project=project, name=name)
    )
    return (("authorization", f"Bearer {response.agent_token}"),)


async def failing(call, code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code


async def test_handled_counts_match_the_calls_made_by_code(metrics):
    project = (
        await metrics.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/m/counts"))
    ).project.slug
    alice = await register(metrics, project, "Alice")
    await register(metrics, project, "Bob")
    for i in range(5):
        await metrics.mail.SendMessage(
            mpb.SendMessageRequest(to=["Bob"], subject=f"s{i}"), metadata=alice
        )
    for _ in range(2):
        await failing(
            metrics.mail.SendMessage(
                mpb.SendMessageRequest(to=["Nobody"], subject="x"), metadata=alice
            ),
            grpc.StatusCode.NOT_FOUND,
        )
    await failing(
        metrics.mail.SendMessage(mpb.SendMessageRequest(to=["Bob"], subject=""), metadata=alice),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await failing(metrics.mail.ListInbox(mpb.ListInboxRequest()), grpc.StatusCode.UNAUTHENTICATED)
    for _ in range(3):
        await metrics.mail.ListInbox(mpb.ListInboxRequest(), metadata=alice)

    samples = await metrics.samples()

    assert samples.handled("EnsureProject") == {"OK": 1}
    assert samples.handled("RegisterAgent") == {"OK": 2}
    assert samples.handled("SendMessage") == {"OK": 5, "NotFound": 2, "InvalidArgument": 1}
    assert samples.handled("ListInbox") == {"OK": 3, "Unauthenticated": 1}
    assert samples.handled("GetMessage") == {}
    labels = {"grpc_service": MAIL, "grpc_method": "SendMessage", "grpc_type": "unary"}
    assert samples.value("grpc_server_started_total", **labels) == 8
    assert samples.value("grpc_server_msg_received_total", **labels) == 8
    # A unary call sends its one response only when it succeeds.
    assert samples.value("grpc_server_msg_sent_total", **labels) == 5
    assert samples.value("grpc_server_handling_seconds_count", **labels) == 8
    assert samples.value("grpc_server_handling_seconds_bucket", le="+Inf", **labels) == 8
    assert 0 < samples.value("grpc_server_handling_seconds_sum", **labels) < 8 * 5
    assert samples.value("grpc_server_started_total", grpc_method="GetMessage") == 0
    assert samples.value("grpc_server_started_total", grpc_method="UpdateAgent") == 0


async def test_a_failing_call_is_counted_with_its_code(metrics):
    project = (
        await metrics.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/m/fail"))
    ).project.slug
    alice = await register(metrics, project, "Alice")

    await failing(
        metrics.mail.GetMessage(mpb.GetMessageRequest(message_id=424242), metadata=alice),
        grpc.StatusCode.NOT_FOUND,
    )
    await failing(
        metrics.agents.RegisterAgent(apb.RegisterAgentRequest(project=project, name="Alice")),
        grpc.StatusCode.ALREADY_EXISTS,
    )

    samples = await metrics.samples()
    assert samples.handled("GetMessage") == {"NotFound": 1}
    assert samples.handled("RegisterAgent") == {"OK": 1, "AlreadyExists": 1}
    assert samples.rpc("grpc_server_msg_sent_total", "GetMessage") == 0
    assert samples.rpc("grpc_server_handling_seconds_count", "GetMessage") == 1


async def test_a_stream_counts_sent_messages_and_ends_with_its_code(metrics, poll):
    project = (
        await metrics.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/m/stream"))
    ).project.slug
    alice = await register(metrics, project, "Alice")
    bob = await register(metrics, project, "Bob")
    call = metrics.mail.SubscribeInbox(mpb.SubscribeInboxRequest(), metadata=bob)
    first = await asyncio.wait_for(call.read(), 10)
    assert first.HasField("heartbeat")  # live: everything sent from now on is pushed
    for i in range(3):
        await metrics.mail.SendMessage(
            mpb.SendMessageRequest(to=["Bob"], subject=f"s{i}"), metadata=alice
        )
    items = [await asyncio.wait_for(call.read(), 10) for _ in range(3)]
    assert all(item.HasField("item") for item in items)

    during = await metrics.samples()
    assert during.rpc("grpc_server_started_total", "SubscribeInbox") == 1
    assert during.handled("SubscribeInbox") == {}  # still open
    call.cancel()

    async def ended():
        samples = await metrics.samples()
        return samples if samples.handled("SubscribeInbox") else None

    after = await poll(ended)
    assert after.handled("SubscribeInbox") == {"Canceled": 1}
    labels = {"grpc_method": "SubscribeInbox", "grpc_type": "server_stream"}
    assert after.value("grpc_server_msg_sent_total", **labels) == 4  # heartbeat + 3 items
    assert after.value("grpc_server_msg_received_total", **labels) == 1
    assert after.value("grpc_server_handling_seconds_count", **labels) == 1
    # The duration runs to the end of the stream, which outlived the three sends.
    sends = after.rpc("grpc_server_handling_seconds_sum", "SendMessage")
    assert after.value("grpc_server_handling_seconds_sum", **labels) > sends


async def test_a_stream_refused_up_front_ends_with_its_error_code(metrics, poll):
    project = (
        await metrics.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/m/badcursor"))
    ).project.slug
    bob = await register(metrics, project, "Bob")
    call = metrics.mail.SubscribeInbox(
        mpb.SubscribeInboxRequest(cursor="not-a-cursor"), metadata=bob
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def ended():
        samples = await metrics.samples()
        return samples if samples.handled("SubscribeInbox") else None

    samples = await poll(ended)
    assert samples.handled("SubscribeInbox") == {"InvalidArgument": 1}
    assert samples.rpc("grpc_server_msg_sent_total", "SubscribeInbox") == 0


async def test_unknown_methods_create_no_series(metrics):
    before = await metrics.scrape()
    call = metrics.channel.unary_unary("/agentmail.v1.MailService/NoSuchMethod")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(b"")
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED

    after = await metrics.scrape()
    assert "NoSuchMethod" not in after
    assert len(after.splitlines()) == len(before.splitlines())
