"""The typed client's contact, presence and lifecycle calls against a real server: typed
models out, typed errors (with the server's reason and metadata) for refusals."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import agentmail_client as am
import pytest
from agentmail_server.app import AgentmailServer
from agentmail_server.config import ServerConfig


@pytest.fixture
async def project(tmp_path: pathlib.Path) -> AsyncIterator[tuple[am.AgentmailClient, str]]:
    config = ServerConfig(listen="127.0.0.1:0", data_dir=tmp_path, grace_seconds=1.0, archive=False)
    server = AgentmailServer(config)
    await server.start()
    try:
        async with am.AgentmailClient(server.address) as client:
            yield client, (await client.ensure_project("/srv/repos/contacts")).project.slug
    finally:
        await server.stop()


async def agent(client: am.AgentmailClient, slug: str, name: str) -> am.AgentmailClient:
    view = client.with_token(None)
    await view.register_agent(slug, name)
    return view


async def test_contact_handshake_through_the_client(
    project: tuple[am.AgentmailClient, str],
) -> None:
    client, slug = project
    ann, ben = await agent(client, slug, "Ann"), await agent(client, slug, "Ben")
    shown = await ben.set_contact_policy(am.ContactPolicy.CONTACTS_ONLY)
    assert shown.contact_policy is am.ContactPolicy.CONTACTS_ONLY
    with pytest.raises(am.PermissionDenied) as refused:
        await ann.send_message(to="Ben", subject="hello")
    assert refused.value.reason == "CONTACT_REQUIRED"
    assert refused.value.metadata["refused"] == "Ben:CONTACT_REQUIRED"
    asked = await ann.request_contact("ben", reason="pairing", ttl_seconds=3600)
    assert isinstance(asked, am.RequestContactResult) and asked.notified
    assert asked.contact.state is am.ContactState.PENDING
    assert asked.contact.expire_time is not None
    approved = await ben.respond_contact("Ann", approve=True)
    assert approved.state is am.ContactState.APPROVED
    await ann.send_message(to="Ben", subject="hello")
    page = await ben.list_contacts(page_size=10)
    assert [(c.from_agent, c.to_agent, c.state) for c in page] == [
        ("Ann", "Ben", am.ContactState.APPROVED)
    ]
    assert page.items[0] == am.Contact.from_proto(page.items[0].to_proto())


async def test_presence_and_retirement_through_the_client(
    project: tuple[am.AgentmailClient, str],
) -> None:
    client, slug = project
    ann, ben = await agent(client, slug, "Ann"), await agent(client, slug, "Ben")
    updated = await ann.update_agent(status="on review duty", capabilities=["reviewer"])
    assert (updated.status, updated.capabilities) == ("on review duty", ("reviewer",))
    assert updated.last_active_time is not None
    assert updated.contact_policy is am.ContactPolicy.AUTO
    assert updated == am.Agent.from_proto(updated.to_proto())
    found = await ann.list_agents(slug, capability="REVIEWER")
    assert [a.name for a in found] == ["Ann"]
    retired = await ben.retire_agent()
    assert retired.retired and retired.retire_time is not None
    assert [a.name for a in await ann.list_agents(slug)] == ["Ann"]
    everyone = await ann.list_agents(slug, include_retired=True, active_within_seconds=600)
    assert [a.name for a in everyone] == ["Ann", "Ben"]
    with pytest.raises(am.PermissionDenied) as refused:
        await ann.send_message(to="Ben", subject="are you there")
    assert refused.value.reason == "AGENT_RETIRED"
    assert not (await ben.unretire_agent()).retired


async def test_broadcast_result_lists_skipped_recipients(
    project: tuple[am.AgentmailClient, str],
) -> None:
    client, slug = project
    ann, ben = await agent(client, slug, "Ann"), await agent(client, slug, "Ben")
    cat = await agent(client, slug, "Cat")
    await agent(client, slug, "Dan")
    await cat.set_contact_policy(am.ContactPolicy.BLOCK_ALL)
    await ben.retire_agent()
    sent = await ann.send_message(broadcast=True, subject="standup")
    assert sent.message.to == ("Dan",)
    assert sent.skipped == (
        am.SkippedRecipient("Ben", "AGENT_RETIRED"),
        am.SkippedRecipient("Cat", "CONTACT_BLOCKED"),
    )


async def test_bad_calls_raise_typed_errors(project: tuple[am.AgentmailClient, str]) -> None:
    client, slug = project
    ann = await agent(client, slug, "Ann")
    with pytest.raises(am.InvalidArgument) as bad:
        await ann.request_contact("Ann")
    assert bad.value.field_violations[0].field == "to_agent"
    with pytest.raises(am.NotFound):
        await ann.respond_contact("Nobody", approve=False)
    with pytest.raises(am.InvalidArgument):
        await ann.update_agent(capabilities=["not a name"])
