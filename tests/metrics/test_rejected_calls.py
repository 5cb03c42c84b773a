"""``agentmail_rejected_calls_total{method,reason}`` counts refused calls by reason."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2, mail_service_pb2

from .conftest import MetricsServer

LIST = "agentmail.v1.MailService/ListInbox"
REJECTED = "agentmail_rejected_calls_total"


async def test_refusals_are_counted_by_method_and_reason(
    tmp_path: pathlib.Path, start_server: Any, connect: Callable[[str], Any]
) -> None:
    async with (
        start_server(
            tmp_path / "data",
            metrics_listen="127.0.0.1:0",
            rate_limit_read_per_second=0.001,
            rate_limit_read_burst=2,
        ) as server,
        connect(server.address) as channel,
    ):
        env = MetricsServer(server, channel)
        slug = (
            await env.agents.EnsureProject(agent_service_pb2.EnsureProjectRequest(human_key="/m"))
        ).project.slug
        token = (
            await env.agents.RegisterAgent(
                agent_service_pb2.RegisterAgentRequest(project=slug, name="Alice")
            )
        ).agent_token
        alice = (("authorization", f"Bearer {token}"),)
        before = await env.samples()
        assert before.value(REJECTED, method=LIST, reason="RATE_LIMITED") == 0
        request = mail_service_pb2.ListInboxRequest()
        await env.mail.ListInbox(request, metadata=alice)  # first call: caches the token
        with pytest.raises(grpc.aio.AioRpcError):
            await env.mail.ListInbox(request)  # TOKEN_MISSING, charged to the peer
        with pytest.raises(grpc.aio.AioRpcError):
            await env.mail.ListInbox(request, metadata=(("authorization", "Bearer am_bogus"),))
        await env.mail.ListInbox(request, metadata=alice)
        await env.mail.ListInbox(request, metadata=alice)
        for _ in range(3):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await env.mail.ListInbox(request, metadata=alice)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        after = await env.samples()
        assert after.value(REJECTED, method=LIST, reason="RATE_LIMITED") == 3
        assert after.value(REJECTED, method=LIST, reason="TOKEN_MISSING") == 1
        assert after.value(REJECTED, method=LIST, reason="TOKEN_INVALID") == 1
        assert after.handled("ListInbox")["ResourceExhausted"] == 3
        # Successful calls are not rejections.
        assert after.value(REJECTED, method="agentmail.v1.AgentService/RegisterAgent") == 0
