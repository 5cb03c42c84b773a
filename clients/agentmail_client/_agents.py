"""AgentService calls: projects and the agents registered in them."""

# ruff: noqa: ASYNC109 -- `timeout` becomes the gRPC deadline, which the server sees and
# honours; an asyncio.timeout around the call would only cancel it locally.

from __future__ import annotations

from collections.abc import Sequence

from agentmail.v1 import agent_service_pb2, types_pb2
from google.protobuf import field_mask_pb2

from ._models import (
    Agent,
    EnsureProjectResult,
    Page,
    Project,
    RegisterAgentResult,
    RevokedTokens,
)
from ._transport import CallKind, ClientBase


class AgentCalls(ClientBase):
    """The AgentService half of :class:`~agentmail_client.AgentmailClient`."""

    async def ensure_project(
        self, human_key: str, *, timeout: float | None = None
    ) -> EnsureProjectResult:
        """Creates the project of a human key, or returns the existing one.

        With an enrollment secret on the server, creating needs the client's
        ``enrollment_secret`` (or an operator token); an existing project is also returned to
        one of its agents.

        Args:
            human_key: Identifies the project, e.g. an absolute repository path.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Raises:
            Unauthenticated: ``ENROLLMENT_REQUIRED`` or ``ENROLLMENT_INVALID``.
        """
        request = agent_service_pb2.EnsureProjectRequest(human_key=human_key)
        stub = self._connection.agents
        response = await self._call(
            stub.EnsureProject, request, CallKind.IDEMPOTENT_WRITE, timeout, enrolling=True
        )
        return EnsureProjectResult(Project.from_proto(response.project), response.created)

    async def get_project(self, slug: str, *, timeout: float | None = None) -> Project:
        """Returns one project by slug. Needs a token: an agent sees only its own project.

        Args:
            slug: The project's slug.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            NotFound: ``PROJECT_NOT_FOUND`` (also for another project than an agent's own).
            Unauthenticated: No token.
        """
        request = agent_service_pb2.GetProjectRequest(slug=slug)
        response = await self._call(
            self._connection.agents.GetProject, request, CallKind.READ, timeout
        )
        return Project.from_proto(response.project)

    async def list_projects(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> Page[Project]:
        """Lists projects, oldest first: every project for an operator, the agent's own
        project alone for an agent. Needs a token.

        Args:
            page_size: Most projects to return; 0 means the server default (50).
            page_token: ``next_page_token`` of the previous page; empty starts at the beginning.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.
        """
        request = agent_service_pb2.ListProjectsRequest(page_size=page_size, page_token=page_token)
        response = await self._call(
            self._connection.agents.ListProjects, request, CallKind.READ, timeout
        )
        items = tuple(Project.from_proto(p) for p in response.projects)
        return Page(items, response.next_page_token)

    async def register_agent(
        self,
        project: str,
        name: str,
        *,
        program: str = "",
        model: str = "",
        task_description: str = "",
        timeout: float | None = None,
    ) -> RegisterAgentResult:
        """Registers an agent, or re-registers it to replace its profile.

        Re-registering an existing name needs that agent's token on this client. A client
        without a token adopts the returned one, so that it then acts as the new agent; use
        :meth:`with_token` (``None``) to register further agents from an anonymous view.

        Args:
            project: Slug of an existing project.
            name: A letter, then letters, digits, ``_`` or ``-``; at most 64 characters.
            program: The program driving the agent.
            model: The model behind the agent.
            task_description: What the agent is working on.
            timeout: Deadline in seconds; defaults to ``timeouts.write``.

        Raises:
            AlreadyExists: ``AGENT_EXISTS`` when the name is taken and no token was sent.
            PermissionDenied: ``NOT_AGENT_OWNER`` with another agent's token.
            Unauthenticated: ``ENROLLMENT_REQUIRED`` or ``ENROLLMENT_INVALID`` for a new name
                on a server with an enrollment secret; ``TOKEN_INVALID`` for a wrong token.
        """
        request = agent_service_pb2.RegisterAgentRequest(
            project=project,
            name=name,
            program=program,
            model=model,
            task_description=task_description,
        )
        response = await self._call(
            self._connection.agents.RegisterAgent, request, CallKind.WRITE, timeout, enrolling=True
        )
        if self._token is None:
            self._token = response.agent_token
        return RegisterAgentResult(
            Agent.from_proto(response.agent), response.agent_token, response.created
        )

    async def get_agent(self, project: str, name: str, *, timeout: float | None = None) -> Agent:
        """Returns an agent's public profile; the name is matched regardless of case. Needs a
        token: an agent sees only its own project's agents.

        Args:
            project: Slug of the agent's project.
            name: The agent's name, in any case.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            NotFound: ``AGENT_NOT_FOUND``.
        """
        request = agent_service_pb2.GetAgentRequest(project=project, name=name)
        response = await self._call(
            self._connection.agents.GetAgent, request, CallKind.READ, timeout
        )
        return Agent.from_proto(response.agent)

    async def list_agents(
        self,
        project: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        active_within_seconds: int = 0,
        capability: str = "",
        include_retired: bool = False,
        timeout: float | None = None,
    ) -> Page[Agent]:
        """Lists a project's agents in registration order (retired ones left out by default).

        Args:
            project: Slug of the project.
            page_size: Most agents to return; 0 means the server default (100).
            page_token: ``next_page_token`` of the previous page.
            active_within_seconds: When positive, only agents active that recently.
            capability: When set, only agents publishing it (regardless of case).
            include_retired: Also list retired agents.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            InvalidArgument: A negative ``active_within_seconds`` or a malformed capability.
        """
        request = agent_service_pb2.ListAgentsRequest(
            project=project,
            page_size=page_size,
            page_token=page_token,
            active_within_seconds=active_within_seconds,
            capability=capability,
            include_retired=include_retired,
        )
        response = await self._call(
            self._connection.agents.ListAgents, request, CallKind.READ, timeout
        )
        return Page(tuple(Agent.from_proto(a) for a in response.agents), response.next_page_token)

    async def update_agent(
        self,
        *,
        program: str | None = None,
        model: str | None = None,
        task_description: str | None = None,
        status: str | None = None,
        capabilities: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> Agent:
        """Changes the given fields of this client's own agent profile; ``None`` keeps one.

        Args:
            program: The new program, or ``None`` to keep it.
            model: The new model, or ``None`` to keep it.
            task_description: The new task description, or ``None`` to keep it.
            status: The new status line (single-line, at most 140 characters; ``""``
                clears it), or ``None`` to keep it.
            capabilities: The new capabilities (replacing all; at most 32 names such as
                ``"reviewer"``; empty clears them), or ``None`` to keep them.
            timeout: Deadline in seconds; defaults to ``timeouts.write``.

        Returns:
            The updated profile.

        Raises:
            ValueError: When no field is given.
            InvalidArgument: A field breaks its limits.
            Unauthenticated: When the client has no valid token.
        """
        fields = {
            "program": program,
            "model": model,
            "task_description": task_description,
            "status": status,
            "capabilities": capabilities,
        }
        changed = {field: value for field, value in fields.items() if value is not None}
        if not changed:
            # The wire's empty mask means "the profile fields"; it must not come from "change
            # nothing".
            raise ValueError("update_agent needs at least one field to change")
        request = agent_service_pb2.UpdateAgentRequest(
            agent=types_pb2.Agent(
                program=program or "",
                model=model or "",
                task_description=task_description or "",
                status=status or "",
                capabilities=list(capabilities or ()),
            ),
            update_mask=field_mask_pb2.FieldMask(paths=sorted(changed)),
        )
        response = await self._call(
            self._connection.agents.UpdateAgent, request, CallKind.WRITE, timeout
        )
        return Agent.from_proto(response.agent)

    async def rotate_token(self, *, overlap_seconds: int = 0, timeout: float | None = None) -> str:
        """Replaces this client's agent token with a new one, which the client adopts and
        returns (shown this once: keep it).

        Not retried: a lost answer would leave the agent with a token nobody knows (then an
        operator's :meth:`revoke_tokens` with ``issue_new_token`` recovers it).

        Args:
            overlap_seconds: How long the previous tokens keep working (0..3600); 0 ends
                them, and this agent's open subscriptions, at once.
            timeout: Deadline in seconds; defaults to ``timeouts.write``.

        Raises:
            InvalidArgument: ``overlap_seconds`` outside 0..3600.
            PermissionDenied: ``OPERATOR_NOT_AGENT`` on an operator's client.
        """
        request = agent_service_pb2.RotateTokenRequest(overlap_seconds=overlap_seconds)
        response = await self._call(
            self._connection.agents.RotateToken, request, CallKind.WRITE, timeout
        )
        self._token = response.agent_token
        return response.agent_token

    async def revoke_tokens(
        self,
        project: str,
        name: str,
        *,
        issue_new_token: bool = False,
        timeout: float | None = None,
    ) -> RevokedTokens:
        """Revokes every token of an agent at once, ending its open subscriptions
        (operator only).

        Args:
            project: Slug of the agent's project.
            name: The agent's name, in any case.
            issue_new_token: Also issue one new token for the agent, returned once.
            timeout: Deadline in seconds; defaults to ``timeouts.write``.

        Raises:
            PermissionDenied: ``OPERATOR_REQUIRED`` on an agent's client.
            NotFound: ``PROJECT_NOT_FOUND`` or ``AGENT_NOT_FOUND``.
        """
        request = agent_service_pb2.RevokeTokensRequest(
            project=project, name=name, issue_new_token=issue_new_token
        )
        response = await self._call(
            self._connection.agents.RevokeTokens, request, CallKind.WRITE, timeout
        )
        return RevokedTokens(response.revoked, response.agent_token or None)
