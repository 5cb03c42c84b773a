"""How a refused send fails: whole, with every refusing recipient named, whatever its
importance; replies follow the same rules; an idempotent repeat still returns the original."""

from __future__ import annotations

from typing import Any

import grpc
from agentmail.v1 import agent_service_pb2, mail_service_pb2

from .conftest import Fleet


async def test_any_refusal_fails_the_whole_send_naming_each_refuser(
    fleet: Fleet, expect_error: Any
) -> None:
    ann = await fleet.register("Ann")
    ben, cat, dan, eve = [await fleet.register(n) for n in ("Ben", "Cat", "Dan", "Eve")]
    await fleet.set_policy(ben, "contacts_only")
    await fleet.agents.RetireAgent(agent_service_pb2.RetireAgentRequest(), metadata=cat.md)
    await fleet.set_policy(dan, "block_all")
    failure = await expect_error(
        fleet.mail.SendMessage(
            mail_service_pb2.SendMessageRequest(
                to=["Ben", "Eve"], cc=["Cat"], bcc=["Dan"], subject="all or nothing", body="b"
            ),
            metadata=ann.md,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "CONTACT_REQUIRED",
    )
    # In recipient order (to, cc, bcc); Eve (AUTO, a first contact) accepts.
    assert failure.metadata == {
        "refused": "Ben:CONTACT_REQUIRED,Cat:AGENT_RETIRED,Dan:CONTACT_BLOCKED"
    }
    for agent in (ben, cat, dan, eve):
        assert await fleet.inbox_subjects(agent) == [], "nothing is half-delivered"
    outbox = await fleet.mail.ListOutbox(mail_service_pb2.ListOutboxRequest(), metadata=ann.md)
    assert list(outbox.messages) == []


async def test_importance_and_ack_required_never_bypass(fleet: Fleet, expect_error: Any) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    await fleet.set_policy(ben, "contacts_only")
    for importance in (1, 2, 3, 4):
        await expect_error(
            fleet.send(ann, "Ben", importance=importance, ack_required=True),
            grpc.StatusCode.PERMISSION_DENIED,
            "CONTACT_REQUIRED",
        )


async def test_sending_to_oneself_always_passes(fleet: Fleet) -> None:
    ann = await fleet.register("Ann")
    await fleet.set_policy(ann, "block_all")
    await fleet.send(ann, "Ann", subject="note to self")
    assert await fleet.inbox_subjects(ann) == ["note to self"]


async def test_replies_follow_the_rules_and_a_shared_thread_passes(
    fleet: Fleet, expect_error: Any
) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    first = await fleet.send(ann, "Ben", subject="plan")
    await fleet.set_policy(ben, "block_all")

    async def reply(agent: Any, message_id: int) -> Any:
        return await fleet.mail.ReplyMessage(
            mail_service_pb2.ReplyMessageRequest(message_id=message_id, body="r"),
            metadata=agent.md,
        )

    # Ben has not spoken in the thread yet: Ann's own follow-up meets Ben's block.
    await expect_error(reply(ann, first.id), grpc.StatusCode.PERMISSION_DENIED, "CONTACT_BLOCKED")
    answer = await reply(ben, first.id)
    # Now both take part in the thread: Ann's reply passes despite BLOCK_ALL.
    await reply(ann, answer.message.id)
    # Naming the thread is not enough for someone outside it.
    cat = await fleet.register("Cat")
    await expect_error(
        fleet.send(cat, "Ben", thread_id=first.thread_id),
        grpc.StatusCode.PERMISSION_DENIED,
        "CONTACT_BLOCKED",
    )


async def test_an_idempotent_repeat_returns_the_original_after_a_block(fleet: Fleet) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    original = await fleet.send(ann, "Ben", subject="once", idempotency_key="k-1")
    await fleet.respond(ben, "Ann", False)
    repeat = await fleet.mail.SendMessage(
        mail_service_pb2.SendMessageRequest(
            to=["Ben"], subject="once", body="body", idempotency_key="k-1"
        ),
        metadata=ann.md,
    )
    assert repeat.deduplicated and repeat.message.id == original.id


async def test_an_overlapping_reservation_opens_a_blocking_holder_to_its_peer(
    fleet: Fleet, expect_error: Any
) -> None:
    # The policy matrix checks every combination on SQLite; this is its reservation row on
    # both backends (the overlap is read in the storing transaction, differently on each).
    ann = await fleet.register("Ann")
    ben = await fleet.register("Ben")
    cat = await fleet.register("Cat")
    await fleet.reserve(ben, "src/app.py")
    await fleet.reserve(ann, "src/**")
    await fleet.set_policy(ben, "block_all")
    await fleet.mail.SendMessage(
        mail_service_pb2.SendMessageRequest(to=["Ben"], subject="about src", body="b"),
        metadata=ann.md,
    )
    assert await fleet.inbox_subjects(ben) == ["about src"]
    await expect_error(
        fleet.mail.SendMessage(
            mail_service_pb2.SendMessageRequest(to=["Ben"], subject="no overlap", body="b"),
            metadata=cat.md,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "CONTACT_BLOCKED",
    )
