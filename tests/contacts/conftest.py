"""Contact-policy fixtures: a server of one's own on a ManualClock (so approvals and windows
expire without sleeping), with the real default policy (AUTO), and a small driver for it."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
    reservation_service_pb2,
    reservation_service_pb2_grpc,
    types_pb2,
)
from agentmail_server.domain.clock import ManualClock
from conftest import NO_GRACE, Registered, open_channel

POLICIES = {
    "open": types_pb2.CONTACT_POLICY_OPEN,
    "auto": types_pb2.CONTACT_POLICY_AUTO,
    "contacts_only": types_pb2.CONTACT_POLICY_CONTACTS_ONLY,
    "block_all": types_pb2.CONTACT_POLICY_BLOCK_ALL,
}


@dataclasses.dataclass
class Fleet:
    """A running server, its clock, stubs and a fresh project to register agents in."""

    server: Any
    clock: ManualClock
    agents: agent_service_pb2_grpc.AgentServiceStub
    mail: mail_service_pb2_grpc.MailServiceStub
    project: str
    reservations: reservation_service_pb2_grpc.ReservationServiceStub

    async def register(self, name: str) -> Registered:
        """Register ``name`` in the fleet's project."""
        reply = await self.agents.RegisterAgent(
            agent_service_pb2.RegisterAgentRequest(project=self.project, name=name)
        )
        return Registered(self.project, name, reply.agent_token)

    async def send(self, sender: Registered, *to: str, **fields: Any) -> types_pb2.Message:
        """Send as ``sender`` to ``to``; the sender's view of the message."""
        fields.setdefault("subject", "hello")
        fields.setdefault("body", "body")
        reply = await self.mail.SendMessage(
            mail_service_pb2.SendMessageRequest(to=list(to), **fields), metadata=sender.md
        )
        return reply.message

    async def reserve(self, agent: Registered, *paths: str) -> None:
        """Reserve ``paths`` (shared, for an hour) as ``agent``; all must be granted."""
        reply = await self.reservations.ReservePaths(
            reservation_service_pb2.ReservePathsRequest(paths=list(paths), shared=True),
            metadata=agent.md,
        )
        assert len(reply.granted) == len(paths), reply

    async def set_policy(self, agent: Registered, policy: str) -> types_pb2.Agent:
        """Set ``agent``'s contact policy by name (see POLICIES)."""
        reply = await self.agents.SetContactPolicy(
            agent_service_pb2.SetContactPolicyRequest(policy=POLICIES[policy]), metadata=agent.md
        )
        return reply.agent

    async def request(self, sender: Registered, to: str, **fields: Any) -> Any:
        """RequestContact as ``sender``."""
        return await self.agents.RequestContact(
            agent_service_pb2.RequestContactRequest(to_agent=to, **fields), metadata=sender.md
        )

    async def respond(
        self, responder: Registered, requester: str, approve: bool, **fields: Any
    ) -> Any:
        """RespondContact as ``responder``."""
        return await self.agents.RespondContact(
            agent_service_pb2.RespondContactRequest(
                from_agent=requester, approve=approve, **fields
            ),
            metadata=responder.md,
        )

    async def contacts(self, agent: Registered, **fields: Any) -> Any:
        """ListContacts as ``agent``."""
        return await self.agents.ListContacts(
            agent_service_pb2.ListContactsRequest(**fields), metadata=agent.md
        )

    async def inbox_subjects(self, agent: Registered) -> list[str]:
        """Subjects in ``agent``'s inbox, oldest first."""
        page = await self.mail.ListInbox(
            mail_service_pb2.ListInboxRequest(page_size=500), metadata=agent.md
        )
        return [item.message.subject for item in page.items]


@pytest.fixture
def fleet_factory(tmp_path: pathlib.Path, start_server: Callable[..., Any]) -> Callable[..., Any]:
    """``async with fleet_factory(**settings) as fleet``: its own server and ManualClock."""

    @contextlib.asynccontextmanager
    async def make(**settings: Any) -> AsyncIterator[Fleet]:
        clock = ManualClock()
        async with (
            start_server(tmp_path / "data", clock=clock, **settings) as server,
            open_channel(server.address) as channel,
        ):
            agents = agent_service_pb2_grpc.AgentServiceStub(channel)
            project = (
                await agents.EnsureProject(
                    agent_service_pb2.EnsureProjectRequest(human_key="/repo/contacts")
                )
            ).project.slug
            yield Fleet(
                server,
                clock,
                agents,
                mail_service_pb2_grpc.MailServiceStub(channel),
                project,
                reservation_service_pb2_grpc.ReservationServiceStub(channel),
            )

    return make


@pytest.fixture
async def fleet(fleet_factory: Callable[..., Any], archive_on: bool) -> AsyncIterator[Fleet]:
    """A fleet on the server's defaults, except that last-active times are written only when a
    test flushes them (``server.services.presence.flush()``) or at shutdown: a background
    flush in the middle of a test would make its counts depend on timing. It stops as the
    ``server`` fixture's does, once its test has ended."""
    grace = None if archive_on else NO_GRACE
    async with fleet_factory(presence_flush_seconds=3600, stop_grace=grace) as running:
        yield running
