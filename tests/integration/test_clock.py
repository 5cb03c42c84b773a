"""Every time the server reports comes from its injected clock.

The server is started on a ``ManualClock`` that only moves when a test advances it, so each
timestamp can be checked exactly: a service reading the system clock directly would show up
here as a time the test never set.
"""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import types_pb2
from agentmail_server.domain.clock import ManualClock
from google.protobuf import field_mask_pb2

# 2025-06-15T15:06:40Z: far from the time the tests run, so a stray system time is obvious.
START_MICROS = 1_750_000_000_000_000
STEP_MICROS = 90_000_000


@pytest.fixture
def clock() -> ManualClock:
    """The server's clock, standing still until a test advances it."""
    return ManualClock(START_MICROS)


@pytest.fixture
async def server(
    tmp_path: pathlib.Path, clock: ManualClock, start_server: Any
) -> AsyncIterator[Any]:
    """A running server (the shared fixtures' ``server``) reading ``clock``."""
    async with start_server(tmp_path / "data", clock=clock) as srv:
        yield srv


def micros(timestamp: Any) -> int:
    return int(timestamp.ToMicroseconds())


async def test_projects_and_agents_are_stamped_by_the_clock(agents, clock):
    project = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/c"))).project
    clock.advance(micros=STEP_MICROS)
    registered = await agents.RegisterAgent(
        apb.RegisterAgentRequest(project=project.slug, name="Ann")
    )
    clock.advance(micros=STEP_MICROS)
    updated = await agents.UpdateAgent(
        apb.UpdateAgentRequest(
            agent=types_pb2.Agent(program="new"),
            update_mask=field_mask_pb2.FieldMask(paths=["program"]),
        ),
        metadata=(("authorization", f"Bearer {registered.agent_token}"),),
    )

    assert micros(project.create_time) == START_MICROS
    assert micros(registered.agent.create_time) == START_MICROS + STEP_MICROS
    assert micros(updated.agent.create_time) == START_MICROS + STEP_MICROS
    assert micros(updated.agent.update_time) == START_MICROS + 2 * STEP_MICROS


async def test_mail_and_its_receipts_are_stamped_by_the_clock(mail, alice, bob, clock):
    clock.advance(micros=STEP_MICROS)
    sent = await mail.SendMessage(
        mpb.SendMessageRequest(to=["Bob"], subject="s", body="b", ack_required=True),
        metadata=alice.md,
    )
    clock.advance(micros=STEP_MICROS)
    read = await mail.MarkRead(mpb.MarkReadRequest(message_ids=[sent.message.id]), metadata=bob.md)
    clock.advance(micros=STEP_MICROS)
    acked = await mail.AcknowledgeMessage(
        mpb.AcknowledgeMessageRequest(message_ids=[sent.message.id]), metadata=bob.md
    )

    assert micros(sent.message.create_time) == START_MICROS + STEP_MICROS
    assert micros(read.states[0].read_time) == START_MICROS + 2 * STEP_MICROS
    assert micros(acked.states[0].read_time) == START_MICROS + 2 * STEP_MICROS
    assert micros(acked.states[0].ack_time) == START_MICROS + 3 * STEP_MICROS


async def test_a_heartbeat_carries_the_clocks_time(mail, bob, clock):
    clock.advance(micros=STEP_MICROS)
    call = mail.SubscribeInbox(mpb.SubscribeInboxRequest(), metadata=bob.md)
    try:
        async with asyncio.timeout(20):
            event = await call.read()
    finally:
        call.cancel()

    assert event.WhichOneof("event") == "heartbeat", event
    assert micros(event.heartbeat.server_time) == START_MICROS + STEP_MICROS
