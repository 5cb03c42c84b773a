"""Concurrent callers: nothing lost or duplicated, first-wins and uniqueness hold under races,
and a full write queue fails fast with WRITER_OVERLOADED."""

from __future__ import annotations

import asyncio
import collections
import itertools

import grpc
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as pb
from conftest import OPERATOR_MD

SENDERS = 64
PER_SENDER = 8


async def test_64_concurrent_senders_to_one_recipient_lose_nothing(
    mail, project, register, bob, read_inbox
):
    senders = await asyncio.gather(*(register(project, f"sender{i:02d}") for i in range(SENDERS)))

    async def send_in_order(sender) -> list[int]:
        sent = []
        for seq in range(PER_SENDER):
            response = await mail.SendMessage(
                pb.SendMessageRequest(to=[bob.name], subject=f"{sender.name}:{seq}", body="b"),
                metadata=sender.md,
            )
            sent.append(response.message.id)
        return sent

    sent_ids = await asyncio.gather(*(send_in_order(s) for s in senders))
    items = await read_inbox(bob, page_size=100)

    got = [i.message.id for i in items]
    assert len(got) == SENDERS * PER_SENDER
    assert all(a < b for a, b in itertools.pairwise(got))
    assert set(got) == {i for ids in sent_ids for i in ids}
    pairs = collections.Counter((i.message.sender, i.message.subject) for i in items)
    assert pairs == collections.Counter(
        {(s.name, f"{s.name}:{seq}"): 1 for s in senders for seq in range(PER_SENDER)}
    )
    for ids in sent_ids:
        assert ids == sorted(ids)
    seqs_by_sender = collections.defaultdict(list)
    for item in items:
        name, seq = item.message.subject.split(":")
        seqs_by_sender[name].append(int(seq))
    assert all(seqs == list(range(PER_SENDER)) for seqs in seqs_by_sender.values())


async def test_concurrent_mark_read_agrees_on_the_first_time(mail, send, alice, bob):
    sent = await send(alice, to=[bob.name])

    responses = await asyncio.gather(
        *(
            mail.MarkRead(pb.MarkReadRequest(message_ids=[sent.id]), metadata=bob.md)
            for _ in range(32)
        )
    )

    times = {r.states[0].read_time.ToNanoseconds() for r in responses}
    assert len(times) == 1
    assert all(r.states[0].HasField("read_time") for r in responses)


async def test_concurrent_sends_with_one_idempotency_key_deliver_once(mail, alice, bob, read_inbox):
    request = pb.SendMessageRequest(to=[bob.name], subject="once", body="b", idempotency_key="k")

    responses = await asyncio.gather(
        *(mail.SendMessage(request, metadata=alice.md) for _ in range(32))
    )

    assert len({r.message.id for r in responses}) == 1
    assert sorted(r.deduplicated for r in responses) == [False] + [True] * 31
    assert [i.message.id for i in await read_inbox(bob)] == [responses[0].message.id]


async def test_concurrent_registrations_of_one_name_create_one_agent(agents, project, rpc_failure):
    spellings = ["same", "SAME", "Same", "sAME"] * 4

    results = await asyncio.gather(
        *(
            agents.RegisterAgent(apb.RegisterAgentRequest(project=project, name=name))
            for name in spellings
        ),
        return_exceptions=True,
    )

    created = [r for r in results if not isinstance(r, BaseException)]
    failures = [rpc_failure(r) for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert created[0].created
    assert [(f.code, f.reason) for f in failures] == [
        (grpc.StatusCode.ALREADY_EXISTS, "AGENT_EXISTS")
    ] * (len(spellings) - 1)
    listed = await agents.ListAgents(apb.ListAgentsRequest(project=project), metadata=OPERATOR_MD)
    assert [a.name for a in listed.agents] == [created[0].agent.name]


async def test_full_write_queue_fails_fast_and_loses_no_accepted_write(
    tmp_path, start_server, connect, rpc_failure
):
    async with (
        start_server(tmp_path / "tiny-queue", writer_queue_size=1) as server,
        connect(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        slug = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/q"))).project.slug
        sender = await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="S"))
        receiver = await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="R"))
        sender_md = (("authorization", f"Bearer {sender.agent_token}"),)
        receiver_md = (("authorization", f"Bearer {receiver.agent_token}"),)

        accepted: list[int] = []
        overloaded = []
        for _round in range(5):
            results = await asyncio.gather(
                *(
                    mail.SendMessage(
                        pb.SendMessageRequest(to=["R"], subject=f"s{i}", body="b"),
                        metadata=sender_md,
                    )
                    for i in range(200)
                ),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, grpc.aio.AioRpcError):
                    overloaded.append(rpc_failure(result))
                else:
                    assert isinstance(result, pb.SendMessageResponse), result
                    accepted.append(result.message.id)
            if overloaded:
                break

        assert overloaded, "1,000 concurrent sends never overflowed a write queue of 1"
        for failure in overloaded:
            assert (failure.code, failure.reason) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "WRITER_OVERLOADED",
            )
            assert failure.retry_delay_seconds is not None
            assert failure.retry_delay_seconds > 0
        delivered: list[int] = []
        token = ""
        for _ in range(100):
            page = await mail.ListInbox(
                pb.ListInboxRequest(page_size=500, page_token=token), metadata=receiver_md
            )
            if not page.items:
                break
            assert not page.next_page_token or page.next_page_token != token, "no progress"
            delivered += [i.message.id for i in page.items]
            token = page.next_page_token
        assert sorted(accepted) == delivered
