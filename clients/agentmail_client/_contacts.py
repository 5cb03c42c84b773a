"""AgentService calls of contact policies and agent lifecycle."""

# ruff: noqa: ASYNC109 -- `timeout` becomes the gRPC deadline, which the server sees and
# honours; an asyncio.timeout around the call would only cancel it locally.

from __future__ import annotations

from agentmail.v1 import agent_service_pb2

from ._contact_models import Contact, ContactPolicy, RequestContactResult
from ._models import Agent, Page
from ._transport import CallKind, ClientBase


class ContactCalls(ClientBase):
    """Contact policies and retirement, on behalf of this client's agent."""

    async def set_contact_policy(
        self, policy: ContactPolicy, *, timeout: float | None = None
    ) -> Agent:
        """Sets who may message this client's agent. Safe to repeat.

        Args:
            policy: The new policy.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Returns:
            The agent's profile with the new policy.

        Raises:
            Unauthenticated: When the client has no valid token.
        """
        request = agent_service_pb2.SetContactPolicyRequest(policy=policy.to_proto())
        response = await self._call(
            self._connection.agents.SetContactPolicy,
            request,
            CallKind.IDEMPOTENT_WRITE,
            timeout,
        )
        return Agent.from_proto(response.agent)

    async def request_contact(
        self,
        to_agent: str,
        *,
        reason: str = "",
        ttl_seconds: int = 0,
        timeout: float | None = None,
    ) -> RequestContactResult:
        """Asks another agent for contact; it is told by mail and an event. Safe to repeat:
        a repeat refreshes the pending request without telling the target again.

        Args:
            to_agent: The agent asked (case-insensitive), not this client's agent.
            reason: Why, shown to the target; single-line, at most 500 characters.
            ttl_seconds: How long the request stays pending; 0 means 7 days (at most 365).
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Raises:
            NotFound: ``AGENT_NOT_FOUND``.
            PermissionDenied: ``AGENT_RETIRED`` or ``CONTACT_BLOCKED``.
            InvalidArgument: A bad name, reason or TTL, or this client's own agent.
        """
        request = agent_service_pb2.RequestContactRequest(
            to_agent=to_agent, reason=reason, ttl_seconds=ttl_seconds
        )
        response = await self._call(
            self._connection.agents.RequestContact,
            request,
            CallKind.IDEMPOTENT_WRITE,
            timeout,
        )
        return RequestContactResult(Contact.from_proto(response.contact), response.notified)

    async def respond_contact(
        self,
        from_agent: str,
        *,
        approve: bool,
        ttl_seconds: int = 0,
        timeout: float | None = None,
    ) -> Contact:
        """Approves or blocks another agent's contact (also without a pending request).

        Args:
            from_agent: The requester (case-insensitive).
            approve: True approves, False blocks.
            ttl_seconds: How long an approval lasts; 0 means 30 days (at most 365).
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Raises:
            NotFound: ``AGENT_NOT_FOUND``.
            InvalidArgument: A bad name or TTL, or this client's own agent.
        """
        request = agent_service_pb2.RespondContactRequest(
            from_agent=from_agent, approve=approve, ttl_seconds=ttl_seconds
        )
        response = await self._call(
            self._connection.agents.RespondContact,
            request,
            CallKind.IDEMPOTENT_WRITE,
            timeout,
        )
        return Contact.from_proto(response.contact)

    async def list_contacts(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> Page[Contact]:
        """Lists this client's agent's contact links, both directions, oldest first.

        Args:
            page_size: Most links to return; 0 means the server default (100).
            page_token: ``next_page_token`` of the previous page.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            InvalidArgument: ``INVALID_PAGE_TOKEN`` for a token not issued to this agent.
        """
        request = agent_service_pb2.ListContactsRequest(page_size=page_size, page_token=page_token)
        response = await self._call(
            self._connection.agents.ListContacts, request, CallKind.READ, timeout
        )
        items = tuple(Contact.from_proto(c) for c in response.contacts)
        return Page(items, response.next_page_token)

    async def retire_agent(
        self, *, project: str = "", name: str = "", timeout: float | None = None
    ) -> Agent:
        """Retires this client's agent (or, on an operator's client, the agent named): it
        receives nothing more, broadcasts skip it and its reservations are released. Safe to
        repeat.

        Args:
            project: The agent's project slug: required for an operator, else empty or own.
            name: The agent's name: required for an operator, else empty or own.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Raises:
            PermissionDenied: ``NOT_SELF`` when an agent names another agent.
        """
        request = agent_service_pb2.RetireAgentRequest(project=project, name=name)
        response = await self._call(
            self._connection.agents.RetireAgent, request, CallKind.IDEMPOTENT_WRITE, timeout
        )
        return Agent.from_proto(response.agent)

    async def unretire_agent(
        self, *, project: str = "", name: str = "", timeout: float | None = None
    ) -> Agent:
        """Brings this client's agent (or, on an operator's client, the agent named) back
        from retirement. Safe to repeat.

        Args:
            project: The agent's project slug: required for an operator, else empty or own.
            name: The agent's name: required for an operator, else empty or own.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.
        """
        request = agent_service_pb2.UnretireAgentRequest(project=project, name=name)
        response = await self._call(
            self._connection.agents.UnretireAgent, request, CallKind.IDEMPOTENT_WRITE, timeout
        )
        return Agent.from_proto(response.agent)
