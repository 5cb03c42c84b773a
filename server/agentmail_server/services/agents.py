"""Projects and agents: ensure, register, look up, update."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from agentmail_server.domain import cursors, limits, names
from agentmail_server.domain.clock import Clock
from agentmail_server.domain.contacts import ContactPolicy
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.drafts import Registration
from agentmail_server.domain.filters import AgentFilter
from agentmail_server.domain.models import Agent, Caller, Identity, Operator, Project
from agentmail_server.errors import (
    AgentmailError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    invalid,
)
from agentmail_server.services.auth import hash_token, new_token, parse_authorization
from agentmail_server.services.cache import LruCache
from agentmail_server.services.presence import Presence
from agentmail_server.storage.ports import AgentWrites, LifecycleWrites, MailReads

PROFILE_FIELDS = ("program", "model", "task_description")
PRESENCE_FIELDS = ("status", "capabilities")
UPDATABLE_FIELDS = (*PROFILE_FIELDS, *PRESENCE_FIELDS)
MAX_STATUS_CHARS = 140
MAX_CAPABILITIES = 32
# A capability is name-like (names.is_valid_agent_name): at most 64 characters.


class AgentDirectory:
    """Use cases of AgentService."""

    def __init__(
        self,
        writes: AgentWrites,
        queries: MailReads,
        cache_size: int,
        codec: CursorCodec,
        clock: Clock,
        *,
        lifecycle: LifecycleWrites,
        presence: Presence,
        default_policy: ContactPolicy = ContactPolicy.AUTO,
    ) -> None:
        self._writes = writes
        self._clock = clock
        self._queries = queries
        self._codec = codec
        self._lifecycle = lifecycle
        self._presence = presence
        self._default_policy = default_policy
        # Projects are never renamed or deleted, so slug -> project can be cached for good.
        self.projects: LruCache[str, Project] = LruCache(cache_size)

    def present(self, agent: Agent) -> Agent:
        """The agent as callers see it: its effective contact policy (the server's default
        when it set none) and its newest last-active time (a stamp not yet flushed wins)."""
        pending = self._presence.pending_time(agent.id)
        last_active = agent.last_active if pending is None else max(pending, agent.last_active)
        policy = agent.contact_policy or self._default_policy
        if last_active == agent.last_active_at and policy is agent.contact_policy:
            return agent
        return dataclasses.replace(agent, last_active_at=last_active, contact_policy=policy)

    async def ensure_project(
        self, human_key: str, caller: Caller | None = None, problem: AgentmailError | None = None
    ) -> tuple[Project, bool]:
        """The project for ``human_key``, created on first use.

        ``problem`` is why the caller may not enroll (see the ENROLLMENT rule): raised unless
        the project exists and ``caller`` is one of its agents.
        """
        if not human_key.strip():
            raise invalid("human_key", "is required")
        limits.check_length("human_key", human_key, limits.MAX_HUMAN_KEY_CHARS)
        existing = await self._queries.project_by_human_key(human_key)
        if problem is not None and not (
            existing is not None
            and isinstance(caller, Identity)
            and caller.project_id == existing.id
        ):
            raise problem
        if existing is not None:
            return existing, False
        return await self._writes.ensure_project(human_key, self._clock.now_micros())

    async def project(self, slug: str, field: str = "project") -> Project:
        """The project with ``slug``; ``field`` names the request field it came from.

        Raises:
            InvalidArgument: the slug is empty.
            NotFound: PROJECT_NOT_FOUND.
        """
        if not slug:
            raise invalid(field, "is required")
        project = self.projects.get(slug)
        if project is None:
            project = await self._queries.project_by_slug(slug)
            if project is None:
                raise NotFound(
                    "PROJECT_NOT_FOUND", f"no project {slug!r}", metadata={"project": slug}
                )
            self.projects.put(slug, project)
        return project

    async def visible_project(self, caller: Caller, slug: str, field: str = "project") -> Project:
        """The project with ``slug`` if ``caller`` may see it: an operator sees every project,
        an agent its own only (another one is NOT_FOUND, as if it did not exist)."""
        if isinstance(caller, Identity) and slug and slug != caller.project_slug:
            raise NotFound("PROJECT_NOT_FOUND", f"no project {slug!r}", metadata={"project": slug})
        return await self.project(slug, field)

    async def list_projects(
        self, caller: Caller, page_size: int, page_token: str
    ) -> tuple[list[Project], str]:
        """A page of projects in creation order and the next page's token: every project for
        an operator, the agent's own project alone for an agent."""
        size = limits.page_size(page_size, 50, 500)
        # The tokens are bound to the list alone (an operator's; an agent's never has a
        # second page, but a token is still checked, so a forged one fails the same way).
        after = self._codec.decode(page_token, cursors.PROJECTS, ()) or 0
        if isinstance(caller, Identity):
            own = await self.project(caller.project_slug)
            return ([own] if own.id > after else []), ""
        found = await self._queries.projects(after, size + 1)
        page = found[:size]
        token = self._codec.encode(cursors.PROJECTS, (), page[-1].id) if len(found) > size else ""
        return page, token

    async def register(
        self,
        project_slug: str,
        name: str,
        profile: dict[str, str],
        authorization: str | None,
        caller: Caller | None = None,
        problem: Unauthenticated | None = None,
    ) -> tuple[Agent, str, bool]:
        """Register (or, with its token, re-register) an agent; returns (agent, token, created).

        ``problem`` is why the caller may not create an agent (the enrollment secret): raised
        at once without a token, otherwise if the name turns out to be new.
        """
        if not names.is_valid_agent_name(name):
            raise invalid(
                "name",
                "must be a letter followed by up to 63 letters, digits, '_' or '-'",
                "INVALID_AGENT_NAME",
            )
        _check_profile(profile)
        presented = None if isinstance(caller, Operator) else parse_authorization(authorization)
        if problem is not None and presented is None:
            raise problem  # before the project lookup: no probing for slugs without the secret
        project = await self.project(project_slug)
        # A new agent always gets a fresh server-made token; a presented token only proves
        # ownership of an existing name (and is handed back unchanged).
        fresh = new_token()
        registration = Registration(
            project_id=project.id,
            name=name,
            program=profile.get("program", ""),
            model=profile.get("model", ""),
            task_description=profile.get("task_description", ""),
            new_token_hash=hash_token(fresh),
            presented_token_hash=hash_token(presented) if presented else None,
            enrollment_problem=problem,
        )
        agent, created = await self._writes.register_agent(registration, self._clock.now_micros())
        token = fresh if created or presented is None else presented
        return self.present(agent), token, created

    async def agent(self, caller: Caller, project_slug: str, name: str) -> Agent:
        """One agent by project and case-insensitive name (retired ones too), if ``caller``
        may see its project.

        Raises:
            NotFound: PROJECT_NOT_FOUND or AGENT_NOT_FOUND.
        """
        if not name:
            raise invalid("name", "is required")
        project = await self.visible_project(caller, project_slug)
        agent = await self._queries.agent_by_key(project.id, names.name_key(name))
        if agent is None:
            raise NotFound(
                "AGENT_NOT_FOUND",
                f"no agent {name!r} in project {project_slug!r}",
                metadata={"name": name, "project": project_slug},
            )
        return self.present(agent)

    async def list_agents(
        self,
        caller: Caller,
        project_slug: str,
        page_size: int,
        page_token: str,
        *,
        active_within_seconds: int = 0,
        capability: str = "",
        include_retired: bool = False,
    ) -> tuple[list[Agent], str]:
        """A page of a project's agents in registration order and the next page's token.

        Retired agents are left out unless ``include_retired``; a positive
        ``active_within_seconds`` keeps agents active that recently; ``capability`` keeps
        agents publishing it (regardless of case).
        """
        size = limits.page_size(page_size, 100, 1000)
        if active_within_seconds < 0:
            raise invalid("active_within_seconds", "must not be negative (0 means any time)")
        if capability:
            _check_capability("capability", capability)
        project = await self.visible_project(caller, project_slug)
        # Anyone who may see the project sees the same list: tokens are bound to the project.
        scope = (project.id,)
        after = self._codec.decode(page_token, cursors.AGENTS, scope) or 0
        since = None
        if active_within_seconds:
            since = self._clock.now_micros() - active_within_seconds * 1_000_000
        flt = AgentFilter(
            active_since=since,
            capability_key=names.name_key(capability) if capability else "",
            include_retired=include_retired,
        )
        found = await self._queries.agents(project.id, after, size + 1, flt)
        page = found[:size]
        token = ""
        if len(found) > size:
            token = self._codec.encode(cursors.AGENTS, scope, page[-1].id)
        return [self.present(agent) for agent in page], token

    async def update(
        self,
        caller: Identity,
        project_slug: str,
        name: str,
        profile: dict[str, str],
        mask: Sequence[str],
        capabilities: Sequence[str] = (),
    ) -> Agent:
        """Change the caller's own fields named in ``mask`` (when empty: the profile fields
        program, model and task_description, never the presence fields)."""
        _check_self(caller, project_slug, name, "update its own profile")
        unknown = [path for path in mask if path not in UPDATABLE_FIELDS]
        if unknown:
            raise invalid(
                "update_mask",
                f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(UPDATABLE_FIELDS)}",
            )
        chosen = mask or PROFILE_FIELDS
        fields = {path: profile.get(path, "") for path in chosen if path != "capabilities"}
        _check_profile(fields)
        if "status" in fields:
            limits.check_length("agent.status", fields["status"], MAX_STATUS_CHARS)
        chosen_capabilities = None
        if "capabilities" in chosen:
            chosen_capabilities = _checked_capabilities(capabilities)
        agent = await self._writes.update_agent(
            caller.agent_id, fields, self._clock.now_micros(), chosen_capabilities
        )
        return self.present(agent)

    async def retire(self, caller: Caller, project_slug: str, name: str) -> Agent:
        """Retire the caller itself, or (an operator) any agent."""
        agent_id = await self.target(caller, project_slug, name, "retire itself")
        agent, _ = await self._lifecycle.retire_agent(agent_id, self._clock.now_micros())
        return self.present(agent)

    async def unretire(self, caller: Caller, project_slug: str, name: str) -> Agent:
        """Bring the caller itself, or (an operator) any agent, back from retirement."""
        agent_id = await self.target(caller, project_slug, name, "unretire itself")
        agent, _ = await self._lifecycle.unretire_agent(agent_id, self._clock.now_micros())
        return self.present(agent)

    async def target(self, caller: Caller, project_slug: str, name: str, action: str) -> int:
        """The id of the agent an administrative call is about: an agent may name only
        itself (empty fields mean itself); an operator must name project and agent.

        Raises:
            PermissionDenied: NOT_SELF, an agent named another agent.
            InvalidArgument: an operator left the project or name out.
            NotFound: PROJECT_NOT_FOUND or AGENT_NOT_FOUND.
        """
        if isinstance(caller, Identity):
            _check_self(caller, project_slug, name, action)
            return caller.agent_id
        if not project_slug:
            raise invalid("project", "is required when an operator calls")
        if not name:
            raise invalid("name", "is required when an operator calls")
        return (await self.agent(caller, project_slug, name)).id


def _check_self(caller: Identity, project_slug: str, name: str, action: str) -> None:
    if (name and names.name_key(name) != names.name_key(caller.name)) or (
        project_slug and project_slug != caller.project_slug
    ):
        raise PermissionDenied(
            "NOT_SELF",
            f"an agent may only {action}",
            metadata={"name": name or caller.name},
        )


def _check_capability(field: str, capability: str) -> None:
    if not names.is_valid_agent_name(capability):
        raise invalid(
            field,
            "a capability is a letter followed by up to 63 letters, digits, '_' or '-'",
        )


def _checked_capabilities(capabilities: Sequence[str]) -> tuple[str, ...]:
    """The capabilities to store: valid names, duplicates (regardless of case) collapsed."""
    if len(capabilities) > MAX_CAPABILITIES:
        raise invalid(
            "agent.capabilities",
            f"at most {MAX_CAPABILITIES} capabilities (got {len(capabilities)})",
        )
    unique: dict[str, str] = {}
    for index, capability in enumerate(capabilities):
        _check_capability(f"agent.capabilities[{index}]", capability)
        unique.setdefault(names.name_key(capability), capability)
    return tuple(unique.values())


def _check_profile(profile: dict[str, str]) -> None:
    limits.check_length("program", profile.get("program", ""), limits.MAX_PROGRAM_CHARS)
    limits.check_length("model", profile.get("model", ""), limits.MAX_MODEL_CHARS)
    limits.check_length(
        "task_description",
        profile.get("task_description", ""),
        limits.MAX_TASK_DESCRIPTION_CHARS,
        multiline=True,
    )
