"""Presence: status lines and capabilities, the ListAgents filters, and last-active times that
follow every authenticated call without a write per call."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from agentmail.v1 import agent_service_pb2, mail_service_pb2, types_pb2
from conftest import OPERATOR_MD
from google.protobuf import field_mask_pb2

from .conftest import Fleet


async def update(fleet: Fleet, agent: Any, paths: list[str], **fields: Any) -> Any:
    return await fleet.agents.UpdateAgent(
        agent_service_pb2.UpdateAgentRequest(
            agent=types_pb2.Agent(**fields), update_mask=field_mask_pb2.FieldMask(paths=paths)
        ),
        metadata=agent.md,
    )


async def listed(fleet: Fleet, **filters: Any) -> list[str]:
    reply = await fleet.agents.ListAgents(
        agent_service_pb2.ListAgentsRequest(project=fleet.project, **filters), metadata=OPERATOR_MD
    )
    return [agent.name for agent in reply.agents]


async def test_status_and_capabilities_are_published(fleet: Fleet) -> None:
    ann = await fleet.register("Ann")
    reply = await update(
        fleet,
        ann,
        ["status", "capabilities"],
        status="reviewing PR 12",
        capabilities=["reviewer", "python", "Python"],
    )
    assert reply.agent.status == "reviewing PR 12"
    assert list(reply.agent.capabilities) == ["reviewer", "python"], "duplicates collapse"
    shown = await fleet.agents.GetAgent(
        agent_service_pb2.GetAgentRequest(project=fleet.project, name="ann"), metadata=OPERATOR_MD
    )
    assert shown.agent.status == "reviewing PR 12"
    # An empty mask changes the profile fields only: the status and capabilities stay.
    kept = await update(fleet, ann, [], program="codex")
    assert kept.agent.status == "reviewing PR 12" and kept.agent.program == "codex"
    cleared = await update(fleet, ann, ["capabilities"])
    assert list(cleared.agent.capabilities) == [] and cleared.agent.status == "reviewing PR 12"


async def test_bad_presence_fields_are_invalid(fleet: Fleet, expect_error: Any) -> None:
    ann = await fleet.register("Ann")
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    await expect_error(
        update(fleet, ann, ["status"], status="x" * 141), invalid, "INVALID_ARGUMENT"
    )
    await expect_error(
        update(fleet, ann, ["status"], status="two\nlines"), invalid, "CONTROL_CHARACTER"
    )
    await expect_error(
        update(fleet, ann, ["capabilities"], capabilities=[f"c{i}" for i in range(33)]),
        invalid,
        "INVALID_ARGUMENT",
        field="agent.capabilities",
    )
    await expect_error(
        update(fleet, ann, ["capabilities"], capabilities=["ok", "not ok"]),
        invalid,
        "INVALID_ARGUMENT",
        field="agent.capabilities[1]",
    )
    await expect_error(
        update(fleet, ann, ["capabilities"], capabilities=["x" * 65]), invalid, "INVALID_ARGUMENT"
    )
    await expect_error(update(fleet, ann, ["retired"]), invalid, "INVALID_ARGUMENT")


async def test_list_agents_filters_by_capability_activity_and_retirement(
    fleet: Fleet, expect_error: Any
) -> None:
    ann, ben, cat, dan = [await fleet.register(n) for n in ("Ann", "Ben", "Cat", "Dan")]
    await update(fleet, ann, ["capabilities"], capabilities=["reviewer", "python"])
    await update(fleet, cat, ["capabilities"], capabilities=["Reviewer"])
    await update(fleet, dan, ["capabilities"], capabilities=["reviewer"])
    await fleet.agents.RetireAgent(agent_service_pb2.RetireAgentRequest(), metadata=dan.md)
    assert await listed(fleet) == ["Ann", "Ben", "Cat"]
    assert await listed(fleet, include_retired=True) == ["Ann", "Ben", "Cat", "Dan"]
    assert await listed(fleet, capability="REVIEWER") == ["Ann", "Cat"]
    assert await listed(fleet, capability="reviewer", include_retired=True) == [
        "Ann",
        "Cat",
        "Dan",
    ]
    assert await listed(fleet, capability="reviewer", page_size=1) == ["Ann"]
    await fleet.server.services.presence.flush()  # the updates' stamps, an hour ago
    fleet.clock.advance(seconds=3600)
    await fleet.mail.ListInbox(mail_service_pb2.ListInboxRequest(), metadata=ben.md)
    assert await fleet.server.services.presence.flush() == 1
    assert await listed(fleet, active_within_seconds=60) == ["Ben"]
    assert await listed(fleet, active_within_seconds=7200) == ["Ann", "Ben", "Cat"]
    await expect_error(
        fleet.agents.ListAgents(
            agent_service_pb2.ListAgentsRequest(project=fleet.project, active_within_seconds=-1),
            metadata=OPERATOR_MD,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        field="active_within_seconds",
    )
    await expect_error(
        fleet.agents.ListAgents(
            agent_service_pb2.ListAgentsRequest(project=fleet.project, capability="a b"),
            metadata=OPERATOR_MD,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        field="capability",
    )


async def test_capability_filter_pages_through_every_match(fleet: Fleet) -> None:
    names = [f"Agent{i}" for i in range(7)]
    for index, name in enumerate(names):
        agent = await fleet.register(name)
        if index % 2 == 0:
            await update(fleet, agent, ["capabilities"], capabilities=["builder"])
    found: list[str] = []
    token = ""
    while True:
        reply = await fleet.agents.ListAgents(
            agent_service_pb2.ListAgentsRequest(
                project=fleet.project, capability="builder", page_size=2, page_token=token
            ),
            metadata=OPERATOR_MD,
        )
        found += [a.name for a in reply.agents]
        token = reply.next_page_token
        if not token:
            break
    assert found == names[::2]


async def test_last_active_moves_without_a_write_per_call(fleet_factory: Any) -> None:
    # The background flush waits an hour here: the test flushes by hand, once.
    async with fleet_factory(presence_flush_seconds=3600) as fleet:
        ann = await fleet.register("Ann")
        registered = (
            await fleet.agents.GetAgent(
                agent_service_pb2.GetAgentRequest(project=fleet.project, name="Ann"),
                metadata=OPERATOR_MD,
            )
        ).agent.last_active_time.ToMicroseconds()
        fleet.clock.advance(seconds=90)
        before = fleet.server.writer_stats().operations
        for _ in range(50):
            await fleet.mail.ListInbox(mail_service_pb2.ListInboxRequest(), metadata=ann.md)
        assert fleet.server.writer_stats().operations == before, "no write per call"
        shown = (
            await fleet.agents.GetAgent(
                agent_service_pb2.GetAgentRequest(project=fleet.project, name="Ann"),
                metadata=OPERATOR_MD,
            )
        ).agent.last_active_time.ToMicroseconds()
        assert shown == registered + 90 * 1_000_000, "reads see the stamp not yet written"
        assert await fleet.server.services.presence.flush() == 1
        assert fleet.server.writer_stats().operations == before + 1, "one write for them all"
        assert await fleet.server.services.presence.flush() == 0, "nothing left to write"


async def test_the_background_task_flushes_stamps_by_itself(fleet_factory: Any) -> None:
    async with fleet_factory(presence_flush_seconds=0.05) as fleet:
        ann = await fleet.register("Ann")  # registering needs no token: nothing is stamped
        now = fleet.clock.advance(seconds=30)
        await fleet.mail.ListInbox(mail_service_pb2.ListInboxRequest(), metadata=ann.md)
        presence = fleet.server.services.presence
        # The flusher exposes stats snapshots, not an event: poll them (bounded by a timeout).
        async with asyncio.timeout(10):
            while presence.stats().flushes == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert presence.stats().pending == 0
        shown = await fleet.agents.GetAgent(
            agent_service_pb2.GetAgentRequest(project=fleet.project, name="Ann"),
            metadata=OPERATOR_MD,
        )
        assert shown.agent.last_active_time.ToMicroseconds() == now, "written, not in memory"


async def test_an_open_inbox_stream_keeps_its_agent_active(fleet_factory: Any) -> None:
    async with fleet_factory(heartbeat_seconds=0.05, presence_flush_seconds=3600) as fleet:
        ann = await fleet.register("Ann")
        call = fleet.mail.SubscribeInbox(mail_service_pb2.SubscribeInboxRequest(), metadata=ann.md)
        try:
            first = await call.read()
            assert first.WhichOneof("event") == "heartbeat"
            later = fleet.clock.advance(seconds=600)
            while (await call.read()).WhichOneof("event") != "heartbeat":
                pass
        finally:
            call.cancel()
        shown = await fleet.agents.GetAgent(
            agent_service_pb2.GetAgentRequest(project=fleet.project, name="Ann"),
            metadata=OPERATOR_MD,
        )
        assert shown.agent.last_active_time.ToMicroseconds() == later


async def test_a_full_stamp_map_is_flushed_at_once(fleet_factory: Any) -> None:
    # cache_size bounds the map too: at two agents it is full, and a flush starts at once
    # instead of in an hour (a stamp that finds it still full is dropped and counted).
    async with fleet_factory(cache_size=2, presence_flush_seconds=3600) as fleet:
        agents = [await fleet.register(name) for name in ("Ann", "Ben", "Cat")]
        presence = fleet.server.services.presence
        for agent in agents:
            await fleet.mail.ListInbox(mail_service_pb2.ListInboxRequest(), metadata=agent.md)
            assert presence.stats().pending <= 2
        async with asyncio.timeout(10):
            while presence.stats().flushes == 0:  # noqa: ASYNC110 - stats, not an event
                await asyncio.sleep(0.01)
        stats = presence.stats()
        assert stats.capacity == 2
        assert stats.pending + stats.dropped <= 1, "Cat's stamp waits or was dropped"
