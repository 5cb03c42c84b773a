"""Holders of overlapping reservations may always write to each other, whatever their
contact policies: two agents editing the same files must be able to talk."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import agent_service_pb2, mail_service_pb2, types_pb2


async def send(mail_stub, sender, to):
    return await mail_stub.SendMessage(
        mail_service_pb2.SendMessageRequest(to=[to], subject="about src"), metadata=sender.md
    )


@pytest.fixture
async def bob_blocks_everyone(agent_stub, bob):
    await agent_stub.SetContactPolicy(
        agent_service_pb2.SetContactPolicyRequest(policy=types_pb2.CONTACT_POLICY_BLOCK_ALL),
        metadata=bob.md,
    )


async def test_overlapping_holders_may_write_whatever_the_policy(
    mail_stub, reserve, alice, bob, bob_blocks_everyone, expect_error
):
    await expect_error(
        send(mail_stub, alice, "Bob"), grpc.StatusCode.PERMISSION_DENIED, "CONTACT_BLOCKED"
    )
    await reserve(bob, ["src/a.py"], shared=True)
    await reserve(alice, ["src/**"], shared=True)

    sent = await send(mail_stub, alice, "Bob")

    assert list(sent.message.to) == ["Bob"]


async def test_holders_of_unrelated_or_released_reservations_may_not(
    mail_stub, reserve, alice, bob, bob_blocks_everyone, expect_error, clock
):
    await reserve(bob, ["src/a.py"], shared=True)
    await reserve(alice, ["lib/**"], shared=True)
    await expect_error(
        send(mail_stub, alice, "Bob"), grpc.StatusCode.PERMISSION_DENIED, "CONTACT_BLOCKED"
    )

    await reserve(alice, ["src/a.py"], shared=True, ttl_seconds=60)
    clock.advance(seconds=60)  # expired: no longer a peer

    await expect_error(
        send(mail_stub, alice, "Bob"), grpc.StatusCode.PERMISSION_DENIED, "CONTACT_BLOCKED"
    )
