"""Contact and lifecycle writes through the single writer (the SQLite
:class:`~agentmail_server.storage.ports.ContactWrites` and
:class:`~agentmail_server.storage.ports.LifecycleWrites`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from agentmail_server.domain.contacts import ContactPolicy
from agentmail_server.domain.events import AgentChange, CommitBuilder
from agentmail_server.domain.links import (
    ContactRequest,
    ContactResponse,
    RequestOutcome,
    ResponseOutcome,
    record_request,
    record_response,
)
from agentmail_server.domain.models import Agent
from agentmail_server.storage.sqlite import contacts, lifecycle
from agentmail_server.storage.sqlite.writer import Writer


class SqliteContactWrites:
    """Contact policies and links."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def set_contact_policy(self, agent_id: int, policy: ContactPolicy, now: int) -> Agent:
        """Store the agent's own policy."""
        operation = functools.partial(
            contacts.set_contact_policy, agent_id=agent_id, policy=policy, now=now
        )
        return await self._writer.submit(operation)

    async def request_contact(
        self, request: ContactRequest, default_policy: ContactPolicy, now: int
    ) -> RequestOutcome:
        """Open or refresh the pending link, telling the target by mail when new."""
        operation = functools.partial(
            contacts.request_contact, request=request, default_policy=default_policy, now=now
        )
        return await self._writer.submit(operation, record_request)

    async def respond_contact(self, response: ContactResponse, now: int) -> ResponseOutcome:
        """Approve or block the requester's link to the responder, telling the requester."""
        operation = functools.partial(contacts.respond_contact, response=response, now=now)
        return await self._writer.submit(operation, record_response)


class SqliteLifecycleWrites:
    """Retirement and last-active times."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def retire_agent(self, agent_id: int, now: int) -> tuple[Agent, bool]:
        """Retire the agent and release its reservations."""
        operation = functools.partial(lifecycle.retire_agent, agent_id=agent_id, now=now)
        return await self._writer.submit(operation, _record_change)

    async def unretire_agent(self, agent_id: int, now: int) -> tuple[Agent, bool]:
        """Bring the agent back."""
        operation = functools.partial(lifecycle.unretire_agent, agent_id=agent_id, now=now)
        return await self._writer.submit(operation, _record_change)

    async def touch_agents(self, stamps: Sequence[tuple[int, int]]) -> int:
        """Move last-active times forward, all in one operation."""
        operation = functools.partial(lifecycle.touch_agents, stamps=stamps)
        return await self._writer.submit(operation)

    async def retire_idle(self, idle_before: int, now: int) -> list[Agent]:
        """Retire a batch of idle agents."""
        operation = functools.partial(lifecycle.retire_idle, idle_before=idle_before, now=now)

        def record(changes: CommitBuilder, retired: list[Agent]) -> None:
            changes.agents.extend(AgentChange(agent, created=False) for agent in retired)

        return await self._writer.submit(operation, record)


def _record_change(changes: CommitBuilder, result: tuple[Agent, bool]) -> None:
    agent, changed = result
    if changed:
        changes.agents.append(AgentChange(agent, created=False))
