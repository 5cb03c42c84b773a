"""Resources: ``agentmail://inbox`` (the latest inbox headlines) and
``agentmail://message/{id}`` (one message with its body), as JSON.

Reading a resource never marks anything read, like ``fetch_inbox``.
"""

from __future__ import annotations

import json

from agentmail_client import AgentmailError, InboxOrder
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from ._bridge import Bridge, full_message, headline, tool_error

_INBOX_SIZE = 50


def register_resources(server: MCPServer, bridge: Bridge) -> None:
    """Adds the inbox and message resources to ``server``."""

    @server.resource(
        "agentmail://inbox",
        name="inbox",
        description=f"This agent's latest {_INBOX_SIZE} inbox messages, newest first, as "
        "headlines with read and acknowledged flags (reading it marks nothing read).",
        mime_type="application/json",
    )
    async def inbox() -> str:
        try:
            client = await bridge.client()
            page = await client.list_inbox(
                page_size=_INBOX_SIZE, order=InboxOrder.NEWEST_FIRST, include_bodies=False
            )
        except ToolError as error:
            raise ResourceError(str(error)) from None
        except AgentmailError as error:
            raise ResourceError(str(tool_error("reading the inbox", error))) from None
        items = [
            {**headline(i.message), "read": i.is_read, "acknowledged": i.is_acknowledged}
            for i in page.items
        ]
        return json.dumps({"messages": items})

    @server.resource(
        "agentmail://message/{message_id}",
        name="message",
        description="One message this agent can see, with its body (marks nothing read).",
        mime_type="application/json",
    )
    async def message(message_id: str) -> str:
        if not message_id.isdigit():
            raise ResourceError(f"message ids are positive integers, not {message_id!r}")
        try:
            client = await bridge.client()
            result = await client.get_message(int(message_id))
        except ToolError as error:
            raise ResourceError(str(error)) from None
        except AgentmailError as error:
            raise ResourceError(str(tool_error("reading the message", error))) from None
        return json.dumps(full_message(result.message))
