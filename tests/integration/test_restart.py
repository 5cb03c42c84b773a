"""Restart: a new server on the same data folder serves everything the old one committed."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1.types_pb2 import MESSAGE_VIEW_FULL
from conftest import OPERATOR_MD


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


class Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        self.mail = mail_service_pb2_grpc.MailServiceStub(channel)


async def test_restart_keeps_projects_agents_tokens_mail_and_read_state(
    tmp_path, start_server, connect
):
    data_dir = tmp_path / "data"
    async with start_server(data_dir) as first, connect(first.address) as channel:
        api = Stubs(channel)
        project = (await api.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/r"))).project
        alice = await api.agents.RegisterAgent(
            apb.RegisterAgentRequest(project=project.slug, name="Alice", program="p", model="m")
        )
        bob = await api.agents.RegisterAgent(
            apb.RegisterAgentRequest(project=project.slug, name="Bob")
        )
        keyed = await api.mail.SendMessage(
            pb.SendMessageRequest(
                to=["Bob"], bcc=["Alice"], subject="kept", body="body", idempotency_key="k1"
            ),
            metadata=auth(alice.agent_token),
        )
        second = await api.mail.SendMessage(
            pb.SendMessageRequest(to=["Bob"], subject="second", body="b2", topic="t"),
            metadata=auth(alice.agent_token),
        )
        acked = await api.mail.AcknowledgeMessage(
            pb.AcknowledgeMessageRequest(message_ids=[keyed.message.id]),
            metadata=auth(bob.agent_token),
        )
        inbox_before = await api.mail.ListInbox(
            pb.ListInboxRequest(view=MESSAGE_VIEW_FULL), metadata=auth(bob.agent_token)
        )
        outbox_before = await api.mail.ListOutbox(
            pb.ListOutboxRequest(view=MESSAGE_VIEW_FULL), metadata=auth(alice.agent_token)
        )
        # Last-active times (still in memory after these calls) are written at shutdown.
        agents_before = await api.agents.ListAgents(
            apb.ListAgentsRequest(project=project.slug), metadata=OPERATOR_MD
        )
        assert agents_before.agents[0].last_active_time != alice.agent.last_active_time
        first_port = first.port

    async with start_server(data_dir) as restarted, connect(restarted.address) as channel:
        api = Stubs(channel)
        assert isinstance(restarted.port, int)
        assert restarted.port > 0
        ensured = await api.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/r"))
        assert ensured.created is False
        assert ensured.project == project
        agents = await api.agents.ListAgents(
            apb.ListAgentsRequest(project=project.slug), metadata=OPERATOR_MD
        )
        assert [a.name for a in agents.agents] == [alice.agent.name, bob.agent.name]
        assert agents == agents_before

        inbox_after = await api.mail.ListInbox(
            pb.ListInboxRequest(view=MESSAGE_VIEW_FULL), metadata=auth(bob.agent_token)
        )
        assert inbox_after == inbox_before
        assert inbox_after.items[0].ack_time == acked.states[0].ack_time
        assert inbox_after.items[0].read_time == acked.states[0].read_time
        outbox_after = await api.mail.ListOutbox(
            pb.ListOutboxRequest(view=MESSAGE_VIEW_FULL), metadata=auth(alice.agent_token)
        )
        assert outbox_after == outbox_before
        assert [m.id for m in outbox_after.messages] == [second.message.id, keyed.message.id]

        again = await api.mail.SendMessage(
            pb.SendMessageRequest(
                to=["Bob"], bcc=["Alice"], subject="kept", body="body", idempotency_key="k1"
            ),
            metadata=auth(alice.agent_token),
        )
        assert again.deduplicated is True
        assert again.message == keyed.message

        reread = await api.mail.MarkRead(
            pb.MarkReadRequest(message_ids=[keyed.message.id]), metadata=auth(bob.agent_token)
        )
        assert reread.states[0].read_time == acked.states[0].read_time

        resumed = await api.mail.ListInbox(
            pb.ListInboxRequest(page_token=inbox_before.next_page_token),
            metadata=auth(bob.agent_token),
        )
        assert list(resumed.items) == []
        third = await api.mail.SendMessage(
            pb.SendMessageRequest(to=["Bob"], subject="third", body="b3"),
            metadata=auth(alice.agent_token),
        )
        assert third.message.id > second.message.id
        resumed = await api.mail.ListInbox(
            pb.ListInboxRequest(page_token=inbox_before.next_page_token),
            metadata=auth(bob.agent_token),
        )
        assert [i.message.id for i in resumed.items] == [third.message.id]

        reregistered = await api.agents.RegisterAgent(
            apb.RegisterAgentRequest(project=project.slug, name="alice", program="p2"),
            metadata=auth(alice.agent_token),
        )
        assert reregistered.created is False
        assert reregistered.agent_token == alice.agent_token
    assert first_port > 0


async def test_stop_during_sends_keeps_every_acknowledged_message(
    tmp_path, start_server, connect, rpc_failure
):
    data_dir = tmp_path / "data"
    accepted: list[int] = []
    failures: list[grpc.aio.AioRpcError] = []
    enough = asyncio.Event()

    async def keep_sending(api: Stubs, token: str, worker: int) -> None:
        try:
            for seq in range(10_000):
                try:
                    response = await api.mail.SendMessage(
                        pb.SendMessageRequest(to=["R"], subject=f"{worker}:{seq}", body="b"),
                        metadata=auth(token),
                        timeout=10,
                    )
                except grpc.aio.AioRpcError as err:
                    failures.append(err)
                    return
                accepted.append(response.message.id)
                if len(accepted) >= 100:
                    enough.set()
        finally:
            enough.set()

    async with contextlib.AsyncExitStack() as outer:
        async with start_server(data_dir) as server:
            channel = await outer.enter_async_context(connect(server.address))
            api = Stubs(channel)
            slug = (
                await api.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/s"))
            ).project.slug
            sender = await api.agents.RegisterAgent(
                apb.RegisterAgentRequest(project=slug, name="S")
            )
            receiver = await api.agents.RegisterAgent(
                apb.RegisterAgentRequest(project=slug, name="R")
            )
            workers = [
                asyncio.create_task(keep_sending(api, sender.agent_token, w)) for w in range(16)
            ]
            await asyncio.wait_for(enough.wait(), timeout=15)
        # The server stops (gracefully) here while the workers keep calling it.
        await asyncio.wait_for(asyncio.gather(*workers), timeout=15)

    assert len(accepted) >= 100
    assert len(failures) == 16
    for err in failures:
        assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), err
        trailers = err.trailing_metadata() or ()
        if any(key == "grpc-status-details-bin" for key, _ in trailers):
            failure = rpc_failure(err)
            assert failure.reason == "SHUTTING_DOWN", failure

    async with start_server(data_dir) as restarted, connect(restarted.address) as channel:
        api = Stubs(channel)
        delivered: list[int] = []
        token = ""
        for _ in range(1000):
            page = await api.mail.ListInbox(
                pb.ListInboxRequest(page_size=500, page_token=token),
                metadata=auth(receiver.agent_token),
            )
            if not page.items:
                break
            assert not page.next_page_token or page.next_page_token != token, "no progress"
            delivered += [i.message.id for i in page.items]
            token = page.next_page_token
        assert set(accepted) <= set(delivered)
        assert len(delivered) == len(set(delivered))
