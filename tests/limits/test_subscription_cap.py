"""At most ``max_subscriptions_per_agent`` open SubscribeInbox streams per agent: a newer one
is refused (TOO_MANY_SUBSCRIPTIONS), the open ones keep running, other agents are unaffected."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from agentmail.v1 import mail_service_pb2 as pb

CAP = 2
READ_TIMEOUT = 10.0


async def opened(env: Any, metadata: Any) -> Any:
    """A stream that has been served its first frame (so the server holds its slot)."""
    call = env.mail.SubscribeInbox(pb.SubscribeInboxRequest(), metadata=metadata)
    first = await asyncio.wait_for(call.read(), READ_TIMEOUT)
    assert first.HasField("heartbeat"), first
    return call


async def wait_for(condition: Any) -> None:
    """Poll a server-side condition with no client-visible event (the hub forgetting a
    cancelled stream)."""
    deadline = asyncio.get_running_loop().time() + READ_TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        if condition():
            return
        await asyncio.sleep(0.005)
    assert condition(), "timed out waiting for the hub"


async def test_the_newest_stream_past_the_cap_is_refused(limited: Any, expect_error: Any) -> None:
    async with limited(max_subscriptions_per_agent=CAP) as env:
        alice = await env.register("Alice")
        bob = await env.register("Bob")
        streams = [await opened(env, alice) for _ in range(CAP)]
        extra = env.mail.SubscribeInbox(pb.SubscribeInboxRequest(), metadata=alice)
        failure = await expect_error(
            extra.read(),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "TOO_MANY_SUBSCRIPTIONS",
            metadata={"limit": "agent", "maxPerAgent": str(CAP)},
        )
        assert failure.retry_delay_seconds is not None
        # Bob has slots of his own, and Alice's open streams still deliver.
        bobs = await opened(env, bob)
        await env.mail.SendMessage(
            pb.SendMessageRequest(to=["Alice"], subject="still here", body="b"), metadata=bob
        )
        for stream in streams:
            event = await asyncio.wait_for(stream.read(), READ_TIMEOUT)
            assert event.item.message.subject == "still here"
        # A closed stream frees its slot.
        streams[0].cancel()
        hub = env.server.hub
        # Alice's remaining stream and Bob's.
        await wait_for(lambda: hub.stats().subscriptions == CAP)
        replacement = await opened(env, alice)
        for call in (streams[1], replacement, bobs):
            call.cancel()
