"""The flood guard over the wire: at most N messages a minute from one sender to one recipient,
per directed pair, counting only messages actually stored."""

from __future__ import annotations

from typing import Any

import grpc
from agentmail.v1 import agent_service_pb2, types_pb2
from agentmail.v1 import mail_service_pb2 as pb

PER_MINUTE = 3
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def note(to: list[str], subject: str = "ping", key: str = "") -> pb.SendMessageRequest:
    return pb.SendMessageRequest(to=to, subject=subject, body="b", idempotency_key=key)


async def test_a_pair_over_its_budget_is_slowed_and_other_pairs_are_not(
    limited: Any, expect_error: Any
) -> None:
    async with limited(flood_guard_per_minute=PER_MINUTE) as env:
        alice = await env.register("Alice")
        bob = await env.register("Bob")
        await env.register("Carol")
        for index in range(PER_MINUTE):
            await env.mail.SendMessage(note(["Bob"], f"m{index}"), metadata=alice)
        failure = await expect_error(
            env.mail.SendMessage(note(["Bob"]), metadata=alice),
            EXHAUSTED,
            "FLOOD_GUARD",
            metadata={"recipient": "Bob", "perMinute": str(PER_MINUTE)},
        )
        assert failure.retry_delay_seconds is not None
        assert abs(failure.retry_delay_seconds - 60 / PER_MINUTE) < 0.01
        assert "Bob" in failure.message
        # Alice -> Carol and Bob -> Alice are other pairs.
        await env.mail.SendMessage(note(["Carol"]), metadata=alice)
        await env.mail.SendMessage(note(["Alice"]), metadata=bob)
        # A message to Bob and Carol is refused whole, and takes nothing from Carol's budget.
        await expect_error(
            env.mail.SendMessage(note(["Carol", "Bob"]), metadata=alice), EXHAUSTED, "FLOOD_GUARD"
        )
        await env.mail.SendMessage(note(["Carol"]), metadata=alice)
        await env.mail.SendMessage(note(["Carol"]), metadata=alice)
        # A reply is a message to the same pair.
        inbox = await env.mail.ListInbox(pb.ListInboxRequest(), metadata=bob)
        first = inbox.items[-1].message.id
        await expect_error(
            env.mail.ReplyMessage(
                pb.ReplyMessageRequest(message_id=first, body="r"), metadata=alice
            ),
            EXHAUSTED,
            "FLOOD_GUARD",
        )
        # One token every 60 / PER_MINUTE seconds.
        env.clock.advance(seconds=60 / PER_MINUTE)
        await env.mail.SendMessage(note(["Bob"]), metadata=alice)
        await expect_error(
            env.mail.SendMessage(note(["Bob"]), metadata=alice), EXHAUSTED, "FLOOD_GUARD"
        )


async def test_only_stored_messages_count(limited: Any, expect_error: Any) -> None:
    async with limited(flood_guard_per_minute=PER_MINUTE) as env:
        alice = await env.register("Alice")
        await env.register("Bob")
        first = await env.mail.SendMessage(note(["Bob"], key="k1"), metadata=alice)
        again = await env.mail.SendMessage(note(["Bob"], key="k1"), metadata=alice)
        assert again.deduplicated and again.message.id == first.message.id
        # A refused send (an unknown recipient beside Bob) stores nothing and counts nothing.
        await expect_error(
            env.mail.SendMessage(note(["Bob", "Nobody"]), metadata=alice),
            grpc.StatusCode.NOT_FOUND,
            "RECIPIENT_NOT_FOUND",
        )
        # Refused in the storing transaction (Carol blocks everyone): Bob's token comes back.
        carol = await env.register("Carol")
        await env.agents.SetContactPolicy(
            agent_service_pb2.SetContactPolicyRequest(policy=types_pb2.CONTACT_POLICY_BLOCK_ALL),
            metadata=carol,
        )
        for _ in range(PER_MINUTE):
            await expect_error(
                env.mail.SendMessage(note(["Bob", "Carol"]), metadata=alice),
                grpc.StatusCode.PERMISSION_DENIED,
                "CONTACT_BLOCKED",
            )
        for _ in range(PER_MINUTE - 1):
            await env.mail.SendMessage(note(["Bob"]), metadata=alice)
        await expect_error(
            env.mail.SendMessage(note(["Bob"]), metadata=alice), EXHAUSTED, "FLOOD_GUARD"
        )


async def test_off_by_default_when_built_in_code(limited: Any) -> None:
    async with limited() as env:
        alice = await env.register("Alice")
        await env.register("Bob")
        for _ in range(100):
            await env.mail.SendMessage(note(["Bob"]), metadata=alice)
