"""Resources, as compact JSON: ``agentmail://inbox`` (the latest inbox headlines),
``agentmail://reservations`` (the project's active file reservations),
``agentmail://message/{id}`` (one message with its body) and ``agentmail://thread/{id}`` (a
thread's messages with bodies).

Reading a resource never marks anything read, like ``fetch_inbox``. The inbox and the
reservations can be subscribed to (see ``_push``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from agentmail_client import AgentmailError, InboxOrder
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from ._bridge import Bridge, full_message, headline, tool_error
from ._coordination_tools import reservation_summary

INBOX_URI = "agentmail://inbox"
RESERVATIONS_URI = "agentmail://reservations"
_INBOX_SIZE = 50
_THREAD_SIZE = 100
_RESERVATIONS_SIZE = 200


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turns the bridge's and the server's errors into a resource error with reason and hint."""
    try:
        yield
    except ToolError as error:
        raise ResourceError(str(error)) from None
    except AgentmailError as error:
        raise ResourceError(str(tool_error(what, error))) from None


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def register_resources(server: MCPServer, bridge: Bridge) -> None:
    """Adds the inbox, reservations, message and thread resources to ``server``."""

    @server.resource(
        INBOX_URI,
        name="inbox",
        description=f"This agent's latest {_INBOX_SIZE} inbox messages, newest first, as "
        "headlines with read and acknowledged flags (reading it marks nothing read). "
        "Subscribe to it to be told when mail arrives.",
        mime_type="application/json",
    )
    async def inbox() -> str:
        with _reading("reading the inbox"):
            client = await bridge.client()
            page = await client.list_inbox(
                page_size=_INBOX_SIZE, order=InboxOrder.NEWEST_FIRST, include_bodies=False
            )
        items = [
            {**headline(i.message), "read": i.is_read, "acknowledged": i.is_acknowledged}
            for i in page.items
        ]
        return _compact({"messages": items})

    @server.resource(
        RESERVATIONS_URI,
        name="reservations",
        description=f"The active file reservations of this project (up to "
        f"{_RESERVATIONS_SIZE}, oldest first): who holds which paths, until when. Subscribe "
        "to it to be told when one of this agent's reservations changes.",
        mime_type="application/json",
    )
    async def reservations() -> str:
        with _reading("reading the reservations"):
            client = await bridge.client()
            page = await client.list_reservations(page_size=_RESERVATIONS_SIZE)
        return _compact(
            {
                "reservations": [reservation_summary(r) for r in page.items],
                "truncated": bool(page.next_page_token),
            }
        )

    @server.resource(
        "agentmail://message/{message_id}",
        name="message",
        description="One message this agent can see, with its body (marks nothing read).",
        mime_type="application/json",
    )
    async def message(message_id: str) -> str:
        if not message_id.isdigit() or int(message_id) < 1:
            raise ResourceError(f"message ids are positive integers, not {message_id!r}")
        with _reading("reading the message"):
            client = await bridge.client()
            result = await client.get_message(int(message_id))
        return _compact(full_message(result.message))

    @server.resource(
        "agentmail://thread/{thread_id}",
        name="thread",
        description=f"A thread's first {_THREAD_SIZE} messages with bodies, oldest first "
        "(marks nothing read).",
        mime_type="application/json",
    )
    async def thread(thread_id: str) -> str:
        with _reading("reading the thread"):
            client = await bridge.client()
            page = await client.get_thread(thread_id, page_size=_THREAD_SIZE)
        return _compact(
            {
                "thread_id": thread_id,
                "messages": [full_message(m) for m in page.items],
                "truncated": bool(page.next_page_token),
            }
        )
