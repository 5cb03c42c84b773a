"""Tools for identity and mail: projects, agents, sending, reading, searching, threads."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from agentmail_client import Importance, InboxOrder
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ._bridge import Bridge, full_message, headline, iso

ImportanceName = Literal["low", "normal", "high", "urgent"]
Names = Annotated[
    list[str], Field(description='Agent names (as in list_agents), e.g. ["BlueLake"].')
]


def register_mail_tools(server: MCPServer, bridge: Bridge) -> None:
    """Adds the identity and mail tools to ``server``."""
    me = bridge.config

    @server.tool()
    async def ensure_project(
        human_key: Annotated[
            str, Field(description="The project's key: the absolute path of its repository.")
        ],
    ) -> dict[str, Any]:
        """Create the agentmail project for a repository, or return it if it exists.

        Call it once before register_agent when the project may be new. Returns the project's
        slug (the bridge itself is configured with one project) and whether it was created."""
        with bridge.calling("ensure_project"):
            result = await bridge.anonymous.ensure_project(human_key)
        return {
            "slug": result.project.slug,
            "human_key": result.project.human_key,
            "created": result.created,
            "bridge_project": me.project,
        }

    @server.tool()
    async def register_agent(
        program: Annotated[str, Field(description="The coding program, e.g. claude-code.")] = "",
        model: Annotated[str, Field(description="The model name, e.g. opus-4.")] = "",
        task_description: Annotated[
            str, Field(description="One line on what this agent is working on.")
        ] = "",
    ) -> dict[str, Any]:
        """Register this bridge's agent (name and project come from the bridge's configuration).

        Call it once per agent, before any mail tool; calling it again updates the profile.
        The agent's token is stored by the bridge and never returned: you never handle it."""
        with bridge.calling("register_agent"):
            result = await bridge.anonymous.register_agent(
                me.project,
                me.agent,
                program=program,
                model=model,
                task_description=task_description,
            )
        if result.token:
            await bridge.store_token(result.token)
        return {
            "name": result.agent.name,
            "project": result.agent.project,
            "created": result.created,
            "token_stored": bool(result.token),
        }

    @server.tool()
    async def whois(
        agent_name: Annotated[str, Field(description="The agent to look up.")],
    ) -> dict[str, Any]:
        """Show one agent's profile: program, model, task, last activity, contact policy."""
        client = await bridge.client()
        with bridge.calling("whois"):
            agent = await client.get_agent(me.project, agent_name)
        return {
            "name": agent.name,
            "program": agent.program,
            "model": agent.model,
            "task_description": agent.task_description,
            "last_active": iso(agent.last_active_time),
            "retired": agent.retired,
            "contact_policy": agent.contact_policy.value if agent.contact_policy else None,
        }

    @server.tool()
    async def list_agents(
        active_within_seconds: Annotated[
            int, Field(ge=0, description="Only agents active this recently; 0 means all.")
        ] = 0,
        limit: Annotated[int, Field(ge=1, le=500, description="Most agents to return.")] = 100,
    ) -> dict[str, Any]:
        """List the agents of this project (names to address mail to)."""
        client = await bridge.client()
        with bridge.calling("list_agents"):
            page = await client.list_agents(
                me.project, page_size=limit, active_within_seconds=active_within_seconds
            )
        return {
            "agents": [
                {
                    "name": a.name,
                    "program": a.program,
                    "task_description": a.task_description,
                    "last_active": iso(a.last_active_time),
                }
                for a in page.items
            ]
        }

    _register_sending(server, bridge)
    _register_reading(server, bridge)


def _register_sending(server: MCPServer, bridge: Bridge) -> None:
    @server.tool()
    async def send_message(
        to: Names,
        subject: Annotated[str, Field(min_length=1, description="One-line subject.")],
        body_md: Annotated[str, Field(description="The message body, in Markdown.")] = "",
        cc: Annotated[list[str], Field(description="Agents to copy.")] = [],  # noqa: B006
        bcc: Annotated[list[str], Field(description="Agents to copy invisibly.")] = [],  # noqa: B006
        importance: Annotated[ImportanceName, Field(description="How urgent it is.")] = "normal",
        ack_required: Annotated[
            bool, Field(description="Ask recipients to acknowledge_message it.")
        ] = False,
        thread_id: Annotated[
            str, Field(description="Continue this thread; empty starts a new one.")
        ] = "",
        topic: Annotated[str, Field(description="Optional topic tag.")] = "",
    ) -> dict[str, Any]:
        """Send a message to other agents of the project. Safe to retry: each call carries
        its own idempotency key, so a retry after a lost reply does not send twice.
        Returns the sent message's headline and any recipients skipped by contact policy."""
        client = await bridge.client()
        with bridge.calling("send_message"):
            result = await client.send_message(
                to,
                subject=subject,
                body=body_md,
                cc=cc,
                bcc=bcc,
                importance=Importance(importance),
                ack_required=ack_required,
                thread_id=thread_id,
                topic=topic,
                idempotency_key=uuid.uuid4().hex,
            )
        return {"message": headline(result.message), "skipped": [vars(s) for s in result.skipped]}

    @server.tool()
    async def reply_message(
        message_id: Annotated[int, Field(ge=1, description="The message to answer.")],
        body_md: Annotated[str, Field(description="The reply body, in Markdown.")],
        reply_all: Annotated[bool, Field(description="Also reply to all recipients.")] = False,
        importance: Annotated[
            ImportanceName | None, Field(description="Importance; default is the original's.")
        ] = None,
        ack_required: Annotated[bool, Field(description="Ask for acknowledgement.")] = False,
    ) -> dict[str, Any]:
        """Reply in the thread of a message (to its sender, or everyone with reply_all);
        the subject gets "Re: ". Safe to retry, like send_message."""
        client = await bridge.client()
        with bridge.calling("reply_message"):
            result = await client.reply_message(
                message_id,
                body=body_md,
                reply_all=reply_all,
                importance=Importance(importance) if importance else None,
                ack_required=ack_required,
                idempotency_key=uuid.uuid4().hex,
            )
        return {"message": headline(result.message), "skipped": [vars(s) for s in result.skipped]}


def _register_reading(server: MCPServer, bridge: Bridge) -> None:
    @server.tool()
    async def fetch_inbox(
        limit: Annotated[int, Field(ge=1, le=200, description="Most messages to return.")] = 20,
        unread_only: Annotated[bool, Field(description="Only messages not yet read.")] = False,
        urgent_only: Annotated[bool, Field(description="Only high and urgent ones.")] = False,
        include_bodies: Annotated[bool, Field(description="Include bodies.")] = False,
        page_token: Annotated[str, Field(description="next_page_token of a previous call.")] = "",
    ) -> dict[str, Any]:
        """List this agent's inbox, newest first. It never marks anything read: call
        mark_message_read for that. To wait for new mail instead of polling, use wait_for_mail."""
        client = await bridge.client()
        with bridge.calling("fetch_inbox"):
            page = await client.list_inbox(
                page_size=limit,
                page_token=page_token,
                order=InboxOrder.NEWEST_FIRST,
                unread_only=unread_only,
                urgent_only=urgent_only,
                include_bodies=include_bodies,
            )
        render = full_message if include_bodies else headline
        return {
            "messages": [
                {**render(i.message), "read": i.is_read, "acknowledged": i.is_acknowledged}
                for i in page.items
            ],
            "next_page_token": page.next_page_token,
        }

    @server.tool()
    async def get_message(
        message_id: Annotated[int, Field(ge=1, description="The message's id.")],
    ) -> dict[str, Any]:
        """Read one message with its body (does not mark it read)."""
        client = await bridge.client()
        with bridge.calling("get_message"):
            result = await client.get_message(message_id)
        return full_message(result.message)

    @server.tool()
    async def mark_message_read(
        message_ids: Annotated[list[int], Field(min_length=1, description="Messages to mark.")],
    ) -> dict[str, Any]:
        """Mark messages read (idempotent: the first read time wins)."""
        client = await bridge.client()
        with bridge.calling("mark_message_read"):
            states = await client.mark_read(message_ids)
        return {"messages": [{"id": s.message_id, "read": iso(s.read_time)} for s in states]}

    @server.tool()
    async def acknowledge_message(
        message_ids: Annotated[list[int], Field(min_length=1, description="Messages to ack.")],
    ) -> dict[str, Any]:
        """Acknowledge messages (also marks them read); the sender is told. Idempotent."""
        client = await bridge.client()
        with bridge.calling("acknowledge_message"):
            states = await client.acknowledge_message(message_ids)
        return {"messages": [{"id": s.message_id, "acknowledged": iso(s.ack_time)} for s in states]}

    @server.tool()
    async def search_messages(
        query: Annotated[
            str, Field(min_length=1, description='Full-text query (words, "phrases", OR, prefix*).')
        ],
        limit: Annotated[int, Field(ge=1, le=100, description="Most hits to return.")] = 20,
    ) -> dict[str, Any]:
        """Search the messages this agent can see, best match first; returns snippets."""
        client = await bridge.client()
        with bridge.calling("search_messages"):
            page = await client.search_messages(query, page_size=limit, include_bodies=False)
        return {"hits": [{**headline(h.message), "snippet": h.snippet} for h in page.items]}

    @server.tool()
    async def get_thread(
        thread_id: Annotated[str, Field(min_length=1, description="The thread's id.")],
        limit: Annotated[int, Field(ge=1, le=200, description="Most messages to return.")] = 50,
    ) -> dict[str, Any]:
        """Read a thread's messages with bodies, oldest first."""
        client = await bridge.client()
        with bridge.calling("get_thread"):
            page = await client.get_thread(thread_id, page_size=limit)
        return {
            "messages": [full_message(m) for m in page.items],
            "next_page_token": page.next_page_token,
        }

    @server.tool()
    async def summarize_thread(
        thread_id: Annotated[str, Field(min_length=1, description="The thread's id.")],
    ) -> dict[str, Any]:
        """Summarize a thread: participants, counts, action items and the latest messages."""
        client = await bridge.client()
        with bridge.calling("summarize_thread"):
            summary = await client.summarize_thread(thread_id, recent_count=3)
        return {
            "thread_id": summary.thread_id,
            "subject": summary.subject,
            "participants": list(summary.participants),
            "message_count": summary.message_count,
            "first": iso(summary.first_time),
            "last": iso(summary.last_time),
            "action_items": [vars(a) for a in summary.action_items],
            "recent": [headline(m) for m in summary.recent_messages],
        }
