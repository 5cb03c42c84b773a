"""Claude Code channel mode: the notification carrying a new message's headline, and the
sender gate in front of it.

Claude Code registers a stdio MCP server as a channel when it announces the experimental
``claude/channel`` capability, and wraps the ``content`` of each ``notifications/claude/channel``
in a ``<channel>`` tag (its ``meta`` entries become the tag's attributes) that wakes the
session. Whatever is pushed lands in the model's context unasked, so it carries the headline
only (sender, subject, importance, id), never the body: the agent reads the message with
``get_message`` when it decides to. Claude Code's docs ask channels to gate senders against
prompt injection: agentmail authenticates every sender by its token, and the gate also checks
that the sender is a current (registered, not retired) agent of this project.
"""

from __future__ import annotations

import collections
from typing import Any, Literal, cast

import mcp_types as types
from agentmail_client import AgentmailClient, AgentmailError, Message, NotFound

from ._bridge import Bridge

CAPABILITY = "claude/channel"
METHOD = "notifications/claude/channel"
# Longest subject pushed; the rest is cut (the full one is in get_message).
_SUBJECT_CHARS = 200
# Senders confirmed registered, most recent last; the oldest is forgotten past this many (and
# looked up again on its next message).
_KNOWN_SENDERS = 256


class ChannelNotification(
    types.Notification[dict[str, Any], Literal["notifications/claude/channel"]]
):
    """``notifications/claude/channel``: ``{"content": str, "meta": {str: str}}``."""

    method: Literal["notifications/claude/channel"] = "notifications/claude/channel"


def _one_line(text: str, limit: int) -> str:
    """``text`` without control characters (a subject cannot break the tag's line), cut."""
    flat = "".join(c if c.isprintable() else " " for c in text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def channel_notification(message: Message) -> types.ServerNotification:
    """The channel notification announcing ``message``: its headline, never its body."""
    subject = _one_line(message.subject, _SUBJECT_CHARS)
    importance = message.importance.value
    content = (
        f'New agentmail message {message.id} from {message.sender} ({importance}): "{subject}". '
        f"Read it with get_message(message_id={message.id})."
    )
    meta = {
        "message_id": str(message.id),
        "sender": message.sender,
        "subject": subject,
        "importance": importance,
    }
    notification = ChannelNotification(params={"content": content, "meta": meta})
    # The SDK types server notifications as the spec's closed union; it sends any
    # notification model the same way (method and params, dumped), and this is Claude Code's.
    return cast(types.ServerNotification, notification)


class Gate:
    """Admits the messages of senders that are current agents of this project."""

    def __init__(self, bridge: Bridge) -> None:
        self._me = bridge.config.agent.casefold()
        self._project = bridge.config.project
        self._known: collections.OrderedDict[str, None] = collections.OrderedDict()

    async def admits(self, client: AgentmailClient, sender: str) -> bool:
        """Whether to push a message from ``sender`` (never this agent's own)."""
        name = sender.casefold()
        if not sender or name == self._me:
            return False
        if name in self._known:
            self._known.move_to_end(name)
            return True
        try:
            agent = await client.get_agent(self._project, sender)
        except NotFound:
            return False
        except AgentmailError:
            return False  # cannot confirm now: fail closed (wait_for_mail still shows it)
        if agent.retired:
            return False
        self._known[name] = None
        if len(self._known) > _KNOWN_SENDERS:
            self._known.popitem(last=False)
        return True
