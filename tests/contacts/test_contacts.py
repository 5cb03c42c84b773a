"""Contact links through the API: requests, answers, listing, the AUTO window and first
contacts, and the errors of bad requests."""

from __future__ import annotations

from typing import Any

import grpc
from agentmail.v1 import agent_service_pb2, types_pb2
from conftest import OPERATOR_MD

from .conftest import Fleet

DAY = 86400


async def test_request_opens_a_pending_link_and_tells_the_target_by_mail(fleet: Fleet) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    answer = await fleet.request(ann, "ben", reason="schema review", ttl_seconds=3600)
    assert answer.notified
    contact = answer.contact
    assert (contact.from_agent, contact.to_agent) == ("Ann", "Ben")
    assert contact.state == types_pb2.CONTACT_STATE_PENDING
    assert contact.reason == "schema review"
    lifetime = contact.expire_time.ToMicroseconds() - contact.create_time.ToMicroseconds()
    assert lifetime == 3600 * 1_000_000
    assert await fleet.inbox_subjects(ben) == ["Contact request from Ann"]


async def test_default_request_lifetime_is_seven_days(fleet: Fleet) -> None:
    ann, _ = await fleet.register("Ann"), await fleet.register("Ben")
    contact = (await fleet.request(ann, "Ben")).contact
    lifetime = contact.expire_time.ToMicroseconds() - contact.create_time.ToMicroseconds()
    assert lifetime == 7 * DAY * 1_000_000


async def test_a_lapsed_request_tells_the_target_again(fleet: Fleet) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    await fleet.request(ann, "Ben", ttl_seconds=60)
    fleet.clock.advance(seconds=3600)
    assert [c.state for c in (await fleet.contacts(ann)).contacts] == [
        types_pb2.CONTACT_STATE_EXPIRED
    ]
    again = await fleet.request(ann, "Ben", ttl_seconds=60)
    assert again.notified and again.contact.state == types_pb2.CONTACT_STATE_PENDING
    assert not (await fleet.request(ann, "Ben")).notified, "a pending repeat is quiet"
    assert len(await fleet.inbox_subjects(ben)) == 2


async def test_approval_lets_contacts_only_agents_talk_both_ways(fleet: Fleet) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    await fleet.set_policy(ann, "contacts_only")
    await fleet.set_policy(ben, "contacts_only")
    await fleet.request(ann, "Ben")
    approved = await fleet.respond(ben, "Ann", True)
    assert approved.contact.state == types_pb2.CONTACT_STATE_APPROVED
    lifetime = approved.contact.expire_time.ToMicroseconds() - fleet.clock.now_micros()
    assert lifetime == 30 * DAY * 1_000_000
    await fleet.send(ann, "Ben", subject="to ben")
    await fleet.send(ben, "Ann", subject="to ann")
    fleet.clock.advance(seconds=30 * DAY)
    listed = await fleet.contacts(ben)
    assert [c.state for c in listed.contacts] == [types_pb2.CONTACT_STATE_EXPIRED]


async def test_request_to_an_agent_that_blocked_the_requester_is_refused(
    fleet: Fleet, expect_error: Any
) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    await fleet.respond(ben, "Ann", False)
    await expect_error(
        fleet.request(ann, "Ben"),
        grpc.StatusCode.PERMISSION_DENIED,
        "CONTACT_BLOCKED",
        metadata={"refused": "Ben:CONTACT_BLOCKED"},
    )
    await fleet.set_policy(ben, "block_all")
    carl = await fleet.register("Carl")
    await expect_error(
        fleet.request(carl, "Ben"), grpc.StatusCode.PERMISSION_DENIED, "CONTACT_BLOCKED"
    )


async def test_request_to_a_retired_agent_is_refused(fleet: Fleet, expect_error: Any) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    await fleet.agents.RetireAgent(agent_service_pb2.RetireAgentRequest(), metadata=ben.md)
    await expect_error(
        fleet.request(ann, "Ben"), grpc.StatusCode.PERMISSION_DENIED, "AGENT_RETIRED"
    )
    assert await fleet.inbox_subjects(ben) == []


async def test_auto_allows_mail_within_the_window_only(fleet_factory: Any) -> None:
    async with fleet_factory(contact_auto_window_seconds=3600) as fleet:
        ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
        await fleet.request(ann, "Ben")  # linked now: Ann's next send is no first contact
        await fleet.set_policy(ann, "open")
        await fleet.send(ben, "Ann", subject="hi ann")  # mail passed between them now
        fleet.clock.advance(seconds=3599)
        await fleet.send(ann, "Ben", subject="within the hour")
        fleet.clock.advance(seconds=3601)
        try:
            await fleet.send(ann, "Ben", subject="too late")
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        else:
            raise AssertionError("mail outside the window was delivered")


async def test_first_contact_opens_an_approved_link_the_target_can_block(
    fleet: Fleet, expect_error: Any
) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    await fleet.send(ann, "Ben", subject="first")
    links = (await fleet.contacts(ben)).contacts
    assert [(c.from_agent, c.to_agent, c.state, c.reason) for c in links] == [
        ("Ann", "Ben", types_pb2.CONTACT_STATE_APPROVED, "first contact")
    ]
    assert (await fleet.contacts(ann)).contacts == links
    await fleet.respond(ben, "Ann", False)
    await expect_error(
        fleet.send(ann, "Ben", subject="second"),
        grpc.StatusCode.PERMISSION_DENIED,
        "CONTACT_BLOCKED",
    )


async def test_first_contact_link_lapses_like_an_approval(fleet: Fleet, expect_error: Any) -> None:
    ann, _ = await fleet.register("Ann"), await fleet.register("Ben")
    await fleet.send(ann, "Ben", subject="first")
    fleet.clock.advance(seconds=30 * DAY + 1)
    await expect_error(
        fleet.send(ann, "Ben", subject="a month later"),
        grpc.StatusCode.PERMISSION_DENIED,
        "CONTACT_REQUIRED",
        metadata={"refused": "Ben:CONTACT_REQUIRED"},
    )


async def test_list_contacts_pages_both_directions_oldest_first(fleet: Fleet) -> None:
    ann = await fleet.register("Ann")
    others = [await fleet.register(name) for name in ("Ben", "Cat", "Dan")]
    await fleet.request(ann, "Ben")
    await fleet.request(others[1], "Ann")
    await fleet.respond(ann, "Dan", True)
    seen: list[tuple[str, str]] = []
    token = ""
    while True:
        page = await fleet.contacts(ann, page_size=2, page_token=token)
        seen += [(c.from_agent, c.to_agent) for c in page.contacts]
        token = page.next_page_token
        if not token:
            break
    assert seen == [("Ann", "Ben"), ("Cat", "Ann"), ("Dan", "Ann")]
    assert [(c.from_agent, c.to_agent) for c in (await fleet.contacts(others[0])).contacts] == [
        ("Ann", "Ben")
    ]


async def test_bad_contact_requests_are_invalid(fleet: Fleet, expect_error: Any) -> None:
    ann, _ = await fleet.register("Ann"), await fleet.register("Ben")
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    await expect_error(fleet.request(ann, "ann"), invalid, "INVALID_ARGUMENT", field="to_agent")
    await expect_error(fleet.request(ann, ""), invalid, "INVALID_AGENT_NAME", field="to_agent")
    await expect_error(
        fleet.request(ann, "Ben", ttl_seconds=-1), invalid, "INVALID_ARGUMENT", field="ttl_seconds"
    )
    await expect_error(
        fleet.request(ann, "Ben", ttl_seconds=366 * DAY), invalid, "INVALID_ARGUMENT"
    )
    await expect_error(
        fleet.request(ann, "Ben", reason="x" * 501), invalid, "INVALID_ARGUMENT", field="reason"
    )
    await expect_error(fleet.request(ann, "Ben", reason="two\nlines"), invalid, "CONTROL_CHARACTER")
    await expect_error(
        fleet.respond(ann, "Ann", True), invalid, "INVALID_ARGUMENT", field="from_agent"
    )
    await expect_error(fleet.respond(ann, "Ben", True, ttl_seconds=-5), invalid, "INVALID_ARGUMENT")
    await expect_error(fleet.request(ann, "Nobody"), grpc.StatusCode.NOT_FOUND, "AGENT_NOT_FOUND")
    await expect_error(fleet.contacts(ann, page_token="garbage"), invalid, "INVALID_PAGE_TOKEN")


async def test_unknown_or_unspecified_policy_is_refused(fleet: Fleet, expect_error: Any) -> None:
    ann = await fleet.register("Ann")
    for value in (types_pb2.CONTACT_POLICY_UNSPECIFIED, 99):
        await expect_error(
            fleet.agents.SetContactPolicy(
                agent_service_pb2.SetContactPolicyRequest(policy=value),  # type: ignore[arg-type]
                metadata=ann.md,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "UNKNOWN_ENUM_VALUE",
            field="policy",
        )
    shown = (
        await fleet.agents.GetAgent(
            agent_service_pb2.GetAgentRequest(project=fleet.project, name="Ann"),
            metadata=OPERATOR_MD,
        )
    ).agent
    assert shown.contact_policy == types_pb2.CONTACT_POLICY_AUTO, "nothing silently changed"


async def test_server_default_policy_is_a_setting(fleet_factory: Any, expect_error: Any) -> None:
    async with fleet_factory(default_contact_policy="contacts_only") as fleet:
        ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
        assert (
            await fleet.agents.GetAgent(
                agent_service_pb2.GetAgentRequest(project=fleet.project, name="Ben"),
                metadata=OPERATOR_MD,
            )
        ).agent.contact_policy == types_pb2.CONTACT_POLICY_CONTACTS_ONLY
        await expect_error(
            fleet.send(ann, "Ben"), grpc.StatusCode.PERMISSION_DENIED, "CONTACT_REQUIRED"
        )
        set_open = await fleet.set_policy(ben, "open")
        assert set_open.contact_policy == types_pb2.CONTACT_POLICY_OPEN
        await fleet.send(ann, "Ben")
