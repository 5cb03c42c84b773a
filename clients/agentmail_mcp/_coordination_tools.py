"""Tools for coordination: file reservations and contacts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from agentmail_client import Conflict, Contact, ContactPolicy, Reservation
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ._bridge import Bridge, iso

Paths = Annotated[
    list[str],
    Field(min_length=1, description='Repository-relative paths or globs, e.g. ["src/api/**"].'),
]
Ids = Annotated[list[int], Field(description="Reservation ids (from file_reservation_paths).")]
Patterns = Annotated[list[str], Field(description="Reservation patterns, exactly as reserved.")]


def reservation_summary(r: Reservation) -> dict[str, Any]:
    return {
        "id": r.id,
        "agent": r.agent,
        "pattern": r.pattern,
        "exclusive": r.exclusive,
        "reason": r.reason,
        "expires": iso(r.expire_time),
        "active": r.active,
    }


def _conflict(c: Conflict) -> dict[str, Any]:
    return {
        "pattern": c.pattern,
        "holders": [
            {
                "reservation_id": h.reservation_id,
                "agent": h.agent,
                "pattern": h.pattern,
                "exclusive": h.exclusive,
                "expires": iso(h.expire_time),
            }
            for h in c.holders
        ],
    }


def _contact(c: Contact) -> dict[str, Any]:
    return {
        "from_agent": c.from_agent,
        "to_agent": c.to_agent,
        "state": c.state.value,
        "reason": c.reason,
        "expires": iso(c.expire_time),
    }


def register_coordination_tools(server: MCPServer, bridge: Bridge) -> None:
    """Adds the reservation and contact tools to ``server``."""

    @server.tool()
    async def file_reservation_paths(
        paths: Paths,
        ttl_seconds: Annotated[
            int, Field(ge=0, description="Lease length; 0 = server default.")
        ] = 0,
        exclusive: Annotated[bool, Field(description="False for a shared (read) lease.")] = True,
        reason: Annotated[str, Field(description="Why, shown to others who conflict.")] = "",
    ) -> dict[str, Any]:
        """Reserve files before editing them, so other agents know to keep off. Returns the
        granted reservations and the conflicts (other agents holding overlapping paths);
        on a conflict, coordinate with the holder by mail instead of editing."""
        client = await bridge.client()
        with bridge.calling("file_reservation_paths"):
            result = await client.reserve_paths(
                paths,
                shared=not exclusive,
                ttl_seconds=ttl_seconds,
                reason=reason,
                idempotency_key=uuid.uuid4().hex,
            )
        return {
            "granted": [reservation_summary(r) for r in result.granted],
            "conflicts": [_conflict(c) for c in result.conflicts],
        }

    @server.tool()
    async def check_file_reservation_conflicts(
        paths: Paths,
        include_shared: Annotated[bool, Field(description="Also report shared leases.")] = False,
    ) -> dict[str, Any]:
        """Check, without reserving, whether other agents hold reservations on these paths."""
        client = await bridge.client()
        with bridge.calling("check_file_reservation_conflicts"):
            result = await client.check_conflicts(paths, include_shared=include_shared)
        return {
            "conflicts": [_conflict(c) for c in result.conflicts],
            "truncated": result.truncated,
        }

    @server.tool()
    async def release_file_reservations(
        ids: Ids = [],  # noqa: B006
        patterns: Patterns = [],  # noqa: B006
        release_all: Annotated[bool, Field(description="Release all of this agent's.")] = False,
    ) -> dict[str, Any]:
        """Release this agent's reservations when done editing (by id, pattern, or all)."""
        client = await bridge.client()
        with bridge.calling("release_file_reservations"):
            released = await client.release_reservations(
                ids=ids, patterns=patterns, all=release_all
            )
        return {"released": [reservation_summary(r) for r in released]}

    @server.tool()
    async def renew_file_reservations(
        ids: Ids = [],  # noqa: B006
        patterns: Patterns = [],  # noqa: B006
        extend_seconds: Annotated[int, Field(ge=0, description="Seconds to add; 0 = default.")] = 0,
    ) -> dict[str, Any]:
        """Extend this agent's reservations before they expire (by id or pattern)."""
        client = await bridge.client()
        with bridge.calling("renew_file_reservations"):
            renewed = await client.renew_reservations(
                ids=ids, patterns=patterns, extend_seconds=extend_seconds
            )
        return {"renewed": [reservation_summary(r) for r in renewed]}

    @server.tool()
    async def force_release_file_reservation(
        reservation_id: Annotated[int, Field(ge=1, description="The reservation to release.")],
        reason: Annotated[str, Field(description="Why; sent to the holder.")] = "",
    ) -> dict[str, Any]:
        """Release another agent's stale reservation (the server allows it only when the
        holder has gone inactive); the holder is notified."""
        client = await bridge.client()
        with bridge.calling("force_release_file_reservation"):
            result = await client.force_release_reservation(reservation_id, reason=reason)
        return {
            "reservation": reservation_summary(result.reservation),
            "notice_message_id": result.notice_message_id,
        }

    @server.tool()
    async def request_contact(
        to_agent: Annotated[str, Field(min_length=1, description="The agent to ask.")],
        reason: Annotated[str, Field(description="Why you want to write to them.")] = "",
        ttl_seconds: Annotated[int, Field(ge=0, description="Request lifetime; 0 = default.")] = 0,
    ) -> dict[str, Any]:
        """Ask an agent whose contact policy requires it for permission to message them."""
        client = await bridge.client()
        with bridge.calling("request_contact"):
            result = await client.request_contact(to_agent, reason=reason, ttl_seconds=ttl_seconds)
        return {"contact": _contact(result.contact), "notified": result.notified}

    @server.tool()
    async def respond_contact(
        from_agent: Annotated[str, Field(min_length=1, description="The requesting agent.")],
        approve: Annotated[bool, Field(description="True to approve, false to block.")],
        ttl_seconds: Annotated[int, Field(ge=0, description="Approval lifetime; 0 = default.")] = 0,
    ) -> dict[str, Any]:
        """Approve or block a contact request made to this agent."""
        client = await bridge.client()
        with bridge.calling("respond_contact"):
            contact = await client.respond_contact(
                from_agent, approve=approve, ttl_seconds=ttl_seconds
            )
        return {"contact": _contact(contact)}

    @server.tool()
    async def list_contacts(
        limit: Annotated[int, Field(ge=1, le=500, description="Most contacts to return.")] = 100,
    ) -> dict[str, Any]:
        """List this agent's contacts and pending requests, both directions."""
        client = await bridge.client()
        with bridge.calling("list_contacts"):
            page = await client.list_contacts(page_size=limit)
        return {"contacts": [_contact(c) for c in page.items]}

    @server.tool()
    async def set_contact_policy(
        policy: Annotated[
            Literal["open", "auto", "contacts_only", "block_all"],
            Field(
                description="open: anyone in the project; auto (default): recent correspondents, "
                "approved contacts and a first contact; contacts_only: approved contacts only; "
                "block_all: nobody but this agent's thread participants."
            ),
        ],
    ) -> dict[str, Any]:
        """Set who may send mail to this agent; contacts_only stops unsolicited mail (others
        must then request_contact first)."""
        client = await bridge.client()
        with bridge.calling("set_contact_policy"):
            agent = await client.set_contact_policy(ContactPolicy(policy))
        return {
            "name": agent.name,
            "contact_policy": agent.contact_policy.value if agent.contact_policy else None,
        }
