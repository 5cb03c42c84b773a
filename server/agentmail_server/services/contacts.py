"""Use cases of contact policies: set a policy, request, answer and list contact links.

Enforcement itself happens where mail is stored (``MailWrites.insert_message`` judges every
recipient in the storing transaction); this module manages what it judges by.
"""

from __future__ import annotations

import dataclasses

from agentmail_server.domain import cursors, limits, names
from agentmail_server.domain.clock import Clock
from agentmail_server.domain.contacts import (
    DEFAULT_APPROVAL_TTL_SECONDS,
    DEFAULT_REQUEST_TTL_SECONDS,
    MAX_CONTACT_REASON_CHARS,
    MAX_CONTACT_TTL_SECONDS,
    ContactLink,
    ContactPolicy,
)
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.links import ContactRequest, ContactResponse, RequestOutcome
from agentmail_server.domain.models import Agent, Identity
from agentmail_server.errors import NotFound, invalid
from agentmail_server.storage.ports import ContactWrites, MailReads

POLICY_VALUES = frozenset(int(policy) for policy in ContactPolicy)


@dataclasses.dataclass(frozen=True)
class ContactPage:
    """One page of a caller's links, the time they were judged at, and the next token."""

    links: list[ContactLink]
    now: int
    next_page_token: str


class ContactBook:
    """Use cases of contact policies and links.

    Args:
        writes: the storage's contact writes.
        queries: reads (agents by name, links).
        codec: seals ListContacts page tokens to the caller.
        clock: the server's clock.
        default_policy: the policy of agents that never set one.
    """

    def __init__(
        self,
        writes: ContactWrites,
        queries: MailReads,
        codec: CursorCodec,
        clock: Clock,
        default_policy: ContactPolicy,
    ) -> None:
        self._writes = writes
        self._queries = queries
        self._codec = codec
        self._clock = clock
        self.default_policy = default_policy

    async def set_policy(self, caller: Identity, policy: int) -> Agent:
        """Store the caller's own policy.

        Raises:
            InvalidArgument: UNKNOWN_ENUM_VALUE for UNSPECIFIED or an unknown number.
        """
        if policy not in POLICY_VALUES:
            raise invalid(
                "policy",
                f"unknown contact policy {policy}; one of OPEN, AUTO, CONTACTS_ONLY, BLOCK_ALL",
                "UNKNOWN_ENUM_VALUE",
            )
        return await self._writes.set_contact_policy(
            caller.agent_id, ContactPolicy(policy), self._clock.now_micros()
        )

    async def request(
        self, caller: Identity, to_agent: str, reason: str, ttl_seconds: int
    ) -> RequestOutcome:
        """Ask ``to_agent`` for contact (see the contract for what is returned).

        Raises:
            InvalidArgument: a bad name, reason or TTL; the caller itself.
            NotFound: AGENT_NOT_FOUND.
            PermissionDenied: AGENT_RETIRED or CONTACT_BLOCKED.
        """
        limits.check_length("reason", reason, MAX_CONTACT_REASON_CHARS)
        ttl = _ttl("ttl_seconds", ttl_seconds, DEFAULT_REQUEST_TTL_SECONDS)
        target_id, target_name = await self._other_agent(caller, "to_agent", to_agent)
        request = ContactRequest(
            project_id=caller.project_id,
            from_id=caller.agent_id,
            from_name=caller.name,
            to_id=target_id,
            to_name=target_name,
            reason=reason.strip(),
            ttl_micros=ttl * 1_000_000,
        )
        return await self._writes.request_contact(
            request, self.default_policy, self._clock.now_micros()
        )

    async def respond(
        self, caller: Identity, from_agent: str, approve: bool, ttl_seconds: int
    ) -> ContactLink:
        """Approve or block the link from ``from_agent`` to the caller.

        Raises:
            InvalidArgument: a bad name or TTL; the caller itself.
            NotFound: AGENT_NOT_FOUND.
        """
        ttl = _ttl("ttl_seconds", ttl_seconds, DEFAULT_APPROVAL_TTL_SECONDS)
        requester_id, _ = await self._other_agent(caller, "from_agent", from_agent)
        response = ContactResponse(
            project_id=caller.project_id,
            from_id=requester_id,
            to_id=caller.agent_id,
            approve=approve,
            ttl_micros=ttl * 1_000_000,
        )
        outcome = await self._writes.respond_contact(response, self._clock.now_micros())
        return outcome.link

    async def list(self, caller: Identity, page_size: int, page_token: str) -> ContactPage:
        """A page of the caller's links (both directions), oldest first."""
        size = limits.page_size(page_size, 100, 1000)
        scope = (caller.agent_id,)
        after = self._codec.decode(page_token, cursors.CONTACTS, scope) or 0
        now = self._clock.now_micros()
        found = await self._queries.contacts(caller.agent_id, after, size + 1)
        page = found[:size]
        token = ""
        if len(found) > size:
            token = self._codec.encode(cursors.CONTACTS, scope, page[-1].id)
        return ContactPage(page, now, token)

    def now(self) -> int:
        """The server's time now (links are reported as of a time: expiry is by time)."""
        return self._clock.now_micros()

    async def _other_agent(self, caller: Identity, field: str, name: str) -> tuple[int, str]:
        if not names.is_valid_agent_name(name):
            raise invalid(
                field,
                "must be an agent name: a letter followed by up to 63 letters, digits, '_' or '-'",
                "INVALID_AGENT_NAME",
            )
        key = names.name_key(name)
        if key == names.name_key(caller.name):
            raise invalid(field, "must name another agent, not the caller")
        found = await self._queries.agents_by_keys(caller.project_id, [key])
        if not found:
            raise NotFound(
                "AGENT_NOT_FOUND",
                f"no agent {name!r} in project {caller.project_slug!r}",
                metadata={"name": name, "project": caller.project_slug},
            )
        agent_id, display, _ = found[0]
        return agent_id, display


def _ttl(field: str, seconds: int, default: int) -> int:
    if seconds < 0:
        raise invalid(field, "must not be negative (0 means the default)")
    if seconds > MAX_CONTACT_TTL_SECONDS:
        raise invalid(field, f"must be at most {MAX_CONTACT_TTL_SECONDS} seconds (365 days)")
    return seconds or default
