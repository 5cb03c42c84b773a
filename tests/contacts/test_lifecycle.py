"""Retirement: self only, idempotent, reversible; a retired agent receives nothing; the idle
sweep retires by the server's clock; broadcasts skip the retired, the idle and the refusing."""

from __future__ import annotations

from typing import Any

import grpc
from agentmail.v1 import agent_service_pb2, mail_service_pb2
from conftest import OPERATOR_MD

from .conftest import Fleet

DAY = 86400


async def retire(fleet: Fleet, agent: Any, name: str = "") -> Any:
    return await fleet.agents.RetireAgent(
        agent_service_pb2.RetireAgentRequest(name=name), metadata=agent.md
    )


async def broadcast(fleet: Fleet, sender: Any) -> Any:
    return await fleet.mail.SendMessage(
        mail_service_pb2.SendMessageRequest(broadcast=True, subject="all hands", body="b"),
        metadata=sender.md,
    )


async def test_retire_and_unretire_oneself(fleet: Fleet, expect_error: Any) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    retired = (await retire(fleet, ben, "ben")).agent
    assert retired.retired and retired.HasField("retire_time")
    again = (await retire(fleet, ben)).agent
    assert again.retire_time == retired.retire_time, "retiring twice keeps the first time"
    await expect_error(
        fleet.send(ann, "Ben"),
        grpc.StatusCode.PERMISSION_DENIED,
        "AGENT_RETIRED",
        metadata={"refused": "Ben:AGENT_RETIRED"},
    )
    await fleet.send(ben, "Ann", subject="a retired agent may still send")
    back = await fleet.agents.UnretireAgent(
        agent_service_pb2.UnretireAgentRequest(), metadata=ben.md
    )
    assert not back.agent.retired and not back.agent.HasField("retire_time")
    await fleet.send(ann, "Ben", subject="welcome back")
    assert await fleet.inbox_subjects(ben) == ["welcome back"]


async def test_retiring_another_agent_is_not_allowed(fleet: Fleet, expect_error: Any) -> None:
    ann, _ = await fleet.register("Ann"), await fleet.register("Ben")
    await expect_error(retire(fleet, ann, "Ben"), grpc.StatusCode.PERMISSION_DENIED, "NOT_SELF")
    await expect_error(
        fleet.agents.UnretireAgent(
            agent_service_pb2.UnretireAgentRequest(name="Ben"), metadata=ann.md
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_SELF",
    )
    await expect_error(
        fleet.agents.RetireAgent(agent_service_pb2.RetireAgentRequest()),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_MISSING",
    )


async def test_idle_agents_are_retired_by_the_sweep(fleet_factory: Any) -> None:
    async with fleet_factory(auto_retire_idle_seconds=DAY, presence_flush_seconds=3600) as fleet:
        ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
        presence = fleet.server.services.presence
        fleet.clock.advance(seconds=DAY - 1)
        await fleet.mail.ListInbox(mail_service_pb2.ListInboxRequest(), metadata=ann.md)
        assert await presence.retire_idle_once() == 0, "nobody is idle for a day yet"
        fleet.clock.advance(seconds=2)
        assert await presence.retire_idle_once() == 1
        everyone = await fleet.agents.ListAgents(
            agent_service_pb2.ListAgentsRequest(project=fleet.project, include_retired=True),
            metadata=OPERATOR_MD,
        )
        assert [(a.name, a.retired) for a in everyone.agents] == [("Ann", False), ("Ben", True)]
        assert ben.name == "Ben"


async def test_broadcast_skips_retired_idle_and_refusing_agents(fleet_factory: Any) -> None:
    async with fleet_factory(broadcast_idle_seconds=DAY, presence_flush_seconds=3600) as fleet:
        ann = await fleet.register("Ann")
        ben, cat, dan, eve = [await fleet.register(n) for n in ("Ben", "Cat", "Dan", "Eve")]
        await retire(fleet, cat)
        await fleet.set_policy(dan, "block_all")
        await fleet.set_policy(eve, "contacts_only")
        fleet.clock.advance(seconds=DAY + 1)
        for agent in (ann, ben, dan, eve):  # everyone but Cat was active a moment ago
            await fleet.mail.ListInbox(mail_service_pb2.ListInboxRequest(), metadata=agent.md)
        await fleet.server.services.presence.flush()
        idle = await fleet.register("Fay")  # registered now: active now
        fleet.clock.advance(seconds=10)
        sent = await broadcast(fleet, ann)
        assert list(sent.message.to) == ["Ben", "Fay"]
        assert [(s.name, s.reason) for s in sent.skipped] == [
            ("Cat", "AGENT_RETIRED"),
            ("Dan", "CONTACT_BLOCKED"),
            ("Eve", "CONTACT_REQUIRED"),
        ]
        assert await fleet.inbox_subjects(ben) == ["all hands"]
        assert await fleet.inbox_subjects(dan) == []
        fleet.clock.advance(seconds=DAY)
        await fleet.mail.ListInbox(mail_service_pb2.ListInboxRequest(), metadata=ben.md)
        later = await broadcast(fleet, ann)
        assert list(later.message.to) == ["Ben"]
        assert ("Fay", "IDLE") in [(s.name, s.reason) for s in later.skipped]
        assert idle.name == "Fay"


async def test_broadcast_that_skips_everyone_fails(fleet: Fleet, expect_error: Any) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    await retire(fleet, ben)
    await expect_error(
        broadcast(fleet, ann),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_BROADCAST_RECIPIENTS",
        metadata={"skipped": "Ben:AGENT_RETIRED"},
    )
