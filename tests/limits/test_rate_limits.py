"""Per-caller rate limits over the wire: RESOURCE_EXHAUSTED RATE_LIMITED with RetryInfo and
QuotaFailure, per agent and per tier, per peer address for callers without a known token.

The limiters read the server's ``ManualClock``: buckets refill only when a test moves it.
A token's first call is free (the limiter does not know the token until authentication has
cached it; see ``rpc/admission.py``), so each test makes one warm-up call per agent.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2, mail_service_pb2, search_service_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

LIST = mail_service_pb2.ListInboxRequest()
NOTE = mail_service_pb2.SendMessageRequest(to=["Alice"], subject="note", body="to self")


def quota_subjects(error: grpc.aio.AioRpcError) -> list[str]:
    """The QuotaFailure subjects a failure carries."""
    status = rpc_status.from_call(error)
    assert status is not None
    subjects = []
    for detail in status.details:
        if detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            failure = error_details_pb2.QuotaFailure()
            detail.Unpack(failure)
            subjects += [v.subject for v in failure.violations]
    return subjects


async def refused(call: Any, expect_error: Any, **metadata: str) -> Any:
    """Await ``call``, assert RATE_LIMITED; return the decoded failure and its quota subjects."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    failure = await expect_error(
        _raise(caught.value), grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED", metadata=metadata
    )
    return failure, quota_subjects(caught.value)


async def _raise(error: Exception) -> None:
    raise error


async def test_a_burst_beyond_the_bucket_is_refused_until_a_token_refills(
    limited: Any, expect_error: Any
) -> None:
    async with limited(rate_limit_read_per_second=2, rate_limit_read_burst=3) as env:
        alice = await env.register("Alice")
        await env.mail.ListInbox(LIST, metadata=alice)  # warm-up: caches the token
        for _ in range(3):
            await env.mail.ListInbox(LIST, metadata=alice)
        failure, subjects = await refused(
            env.mail.ListInbox(LIST, metadata=alice), expect_error, tier="read"
        )
        assert failure.retry_delay_seconds == pytest.approx(0.5, abs=0.01)
        assert failure.metadata["retryAfterMs"] == "500"
        assert subjects == ["agent:srv-limits/Alice"] or subjects[0].endswith("/Alice")
        env.clock.advance(seconds=0.4)
        failure, _ = await refused(env.mail.ListInbox(LIST, metadata=alice), expect_error)
        assert failure.retry_delay_seconds == pytest.approx(0.1, abs=0.01)
        env.clock.advance(seconds=0.1)
        await env.mail.ListInbox(LIST, metadata=alice)
        await refused(env.mail.ListInbox(LIST, metadata=alice), expect_error)


async def test_tiers_and_agents_have_buckets_of_their_own(limited: Any, expect_error: Any) -> None:
    async with limited(
        rate_limit_read_per_second=1,
        rate_limit_read_burst=2,
        rate_limit_search_per_second=1,
        rate_limit_search_burst=1,
    ) as env:
        alice = await env.register("Alice")
        bob = await env.register("Bob")
        for caller in (alice, bob):
            await env.mail.ListInbox(LIST, metadata=caller)  # warm-up
        await env.mail.ListInbox(LIST, metadata=alice)
        await env.mail.ListInbox(LIST, metadata=alice)
        await refused(env.mail.ListInbox(LIST, metadata=alice), expect_error, tier="read")
        # Alice's reads are spent; her writes and searches, and Bob's reads, are not.
        await env.mail.SendMessage(
            mail_service_pb2.SendMessageRequest(to=["Bob"], subject="s", body="b"),
            metadata=alice,
        )
        query = search_service_pb2.SearchMessagesRequest(query="s")
        await env.search.SearchMessages(query, metadata=alice)
        await refused(env.search.SearchMessages(query, metadata=alice), expect_error, tier="search")
        await env.mail.ListInbox(LIST, metadata=bob)
        await env.mail.ListInbox(LIST, metadata=bob)


async def test_callers_without_a_token_are_limited_per_peer_address(
    limited: Any, expect_error: Any
) -> None:
    async with limited(rate_limit_write_per_second=1, rate_limit_write_burst=4) as env:
        alice = await env.register("Alice")  # two writes without a token: EnsureProject, Register
        await env.mail.SendMessage(NOTE, metadata=alice)  # warm-up
        ensure = agent_service_pb2.EnsureProjectRequest(human_key="/srv/other")
        await env.agents.EnsureProject(ensure)
        await env.agents.EnsureProject(ensure)
        _, subjects = await refused(env.agents.EnsureProject(ensure), expect_error, tier="write")
        assert subjects == ["peer:ipv4:127.0.0.1"]
        # The same host on a new connection is the same peer.
        async with env.server_channel() as other:
            from agentmail.v1 import agent_service_pb2_grpc  # noqa: PLC0415

            stub = agent_service_pb2_grpc.AgentServiceStub(other)
            await refused(stub.EnsureProject(ensure), expect_error)
        # An agent the server knows is limited as itself, not as its host.
        await env.mail.SendMessage(NOTE, metadata=alice)
        env.clock.advance(seconds=1)
        await env.agents.EnsureProject(ensure)


async def test_made_up_tokens_drain_their_peers_bucket(limited: Any, expect_error: Any) -> None:
    async with limited(rate_limit_read_per_second=1, rate_limit_read_burst=3) as env:
        alice = await env.register("Alice")
        await env.mail.ListInbox(LIST, metadata=alice)  # warm-up
        bogus = (("authorization", "Bearer am_made_up"),)
        for _ in range(3):
            await expect_error(
                env.mail.ListInbox(LIST, metadata=bogus),
                grpc.StatusCode.UNAUTHENTICATED,
                "TOKEN_INVALID",
            )
        _, subjects = await refused(env.mail.ListInbox(LIST, metadata=bogus), expect_error)
        assert subjects == ["peer:ipv4:127.0.0.1"]
        # Calls without a token from that host are refused too; a known agent is not.
        await refused(
            env.agents.ListProjects(agent_service_pb2.ListProjectsRequest()), expect_error
        )
        await env.mail.ListInbox(LIST, metadata=alice)


async def test_limits_turned_off_never_refuse(limited: Any) -> None:
    async with limited(rate_limit_read_per_second=0, rate_limit_read_burst=1) as env:
        alice = await env.register("Alice")
        for _ in range(50):
            await env.mail.ListInbox(LIST, metadata=alice)


async def test_health_is_never_limited(limited: Any, connect: Any) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    async with limited(rate_limit_read_per_second=1, rate_limit_read_burst=1) as env:
        health = health_pb2_grpc.HealthStub(env.channel)
        for _ in range(20):
            answer = await health.Check(health_pb2.HealthCheckRequest())
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_bulk_send_is_charged_one_write_per_message(
    limited: Any, expect_error: Any
) -> None:
    async with limited(rate_limit_write_per_second=10, rate_limit_write_burst=10) as env:
        alice = await env.register("Alice")
        await env.mail.SendMessage(NOTE, metadata=alice)  # warm-up: caches the token
        bulk = mail_service_pb2.SendMessagesRequest(messages=[NOTE] * 25)
        # Admitted with 9 tokens left, it takes 25: the bucket is 16 tokens in debt.
        response = await env.mail.SendMessages(bulk, metadata=alice)
        assert len(response.results) == 25
        await refused(env.mail.SendMessage(NOTE, metadata=alice), expect_error, tier="write")
        env.clock.advance(seconds=1.5)  # 15 repaid: still 1 in debt, nothing to take
        await refused(env.mail.SendMessages(bulk, metadata=alice), expect_error, tier="write")
        env.clock.advance(seconds=0.2)
        await env.mail.SendMessage(NOTE, metadata=alice)
