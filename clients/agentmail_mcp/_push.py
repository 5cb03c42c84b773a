"""Push: one SubscribeInbox stream per bridge process, turned into MCP notifications.

Two kinds of listener share the stream:

- clients that ``resources/subscribe`` to ``agentmail://inbox`` (or ``agentmail://reservations``)
  get ``notifications/resources/updated`` the moment mail (or a change to one of this agent's
  reservations) arrives: the stream drives it, there is no timer;
- in Claude Code channel mode (``--channel``), the client gets ``notifications/claude/channel``
  with each new message's headline (sender, subject, importance, id; never the body), from
  registered senders only.

The stream is started by the first listener (once the agent has a token), and stopped when the
last subscription goes, or cancelled at shutdown. A subscribe returns once the stream is live,
so mail sent after it returns is never missed. The stream starts at the inbox tail and keeps
no cursor: it says *that* something arrived; ``wait_for_mail`` keeps the cursor that says what.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import mcp_types as types
from agentmail_client import (
    AgentEvent,
    AgentmailClient,
    AgentmailError,
    InboxItem,
    ReservationEvent,
    Subscription,
)
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError

from ._bridge import Bridge
from ._channel import Gate, channel_notification
from ._resources import INBOX_URI, RESERVATIONS_URI

logger = logging.getLogger("agentmail_mcp")

SUBSCRIBABLE = (INBOX_URI, RESERVATIONS_URI)
# How long a subscribe (or register_agent in channel mode) waits for the stream to be live
# before returning anyway; the stream keeps trying (it reconnects by itself).
_LIVE_WAIT = 5.0
# Most connections holding subscriptions at once (only streamable HTTP has more than one); a
# further one is refused with an error rather than letting the table grow without bound.
_MAX_CONNECTIONS = 64


def _reap(task: asyncio.Task[None]) -> None:
    """Reports a stream task that died of something unexpected (it would otherwise go unseen)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("agentmail-mcp: the inbox stream failed: %r", error)


class Push:
    """The stream and who listens to it, for one bridge process."""

    def __init__(self, bridge: Bridge, *, channel: bool) -> None:
        self._bridge = bridge
        self._channel = channel
        self._channel_session: ServerSession | None = None
        self._gate = Gate(bridge)
        # Per connection (its handshake parameters, one object per connection), its session and
        # the URIs it subscribed to. A list: the parameters are compared by identity.
        self._subscribers: list[tuple[object, ServerSession, set[str]]] = []
        self._task: asyncio.Task[None] | None = None
        self._stream: Subscription[InboxItem | AgentEvent] | None = None
        bridge.on_token.append(self._token_stored)

    # -- listeners ------------------------------------------------------------------------

    async def subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        """``resources/subscribe``: returns once the stream is live (when a token is stored)."""
        uri = str(params.uri)
        if uri not in SUBSCRIBABLE:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"only {' and '.join(SUBSCRIBABLE)} can be subscribed to, not {uri!r}",
            )
        entry = self._entry(ctx.session)
        if entry is None:
            if len(self._subscribers) >= _MAX_CONNECTIONS:
                raise MCPError(
                    code=types.INVALID_REQUEST,
                    message=f"too many connections hold subscriptions ({_MAX_CONNECTIONS})",
                )
            entry = (ctx.session.client_params, ctx.session, set())
            self._subscribers.append(entry)
        entry[2].add(uri)
        await self._ensure_running(wait=True)
        return types.EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        """``resources/unsubscribe``: stops the stream when nobody listens any more."""
        entry = self._entry(ctx.session)
        if entry is not None:
            entry[2].discard(str(params.uri))
            if not entry[2]:
                self._subscribers.remove(entry)
        if not self._wanted():
            await self._stop()
        return types.EmptyResult()

    async def attach_channel(self, session: ServerSession) -> None:
        """In channel mode, starts pushing headlines to ``session`` (a client now initialised).

        It does not wait for the stream: it runs inside the handshake's dispatch.
        """
        if self._channel:
            self._channel_session = session
            await self._ensure_running(wait=False)

    async def close(self) -> None:
        """Cancels the stream (at shutdown)."""
        self._subscribers.clear()
        self._channel_session = None
        await self._stop()

    def _entry(self, session: ServerSession) -> tuple[object, ServerSession, set[str]] | None:
        key = session.client_params
        return next((e for e in self._subscribers if key is not None and e[0] is key), None)

    def _wanted(self) -> bool:
        return self._channel_session is not None or bool(self._subscribers)

    async def _token_stored(self) -> None:
        await self._ensure_running(wait=True)

    # -- the stream -----------------------------------------------------------------------

    async def _ensure_running(self, *, wait: bool) -> None:
        if not self._wanted():
            return
        if self._task is None or self._task.done():
            try:
                client = await self._bridge.client()
            except ToolError:
                return  # no token yet: register_agent starts the stream when it stores one
            # Checked again: a concurrent subscribe may have started it while the token was read.
            if self._task is None or self._task.done():
                self._stream = client.subscribe_with_events(include_bodies=False)
                self._task = asyncio.create_task(
                    self._run(client, self._stream), name="agentmail-push"
                )
                self._task.add_done_callback(_reap)
        if wait and self._stream is not None:
            live = asyncio.create_task(self._stream.caught_up.wait())
            try:
                await asyncio.wait(
                    {live, self._task}, timeout=_LIVE_WAIT, return_when="FIRST_COMPLETED"
                )
            finally:
                live.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await live

    async def _stop(self) -> None:
        task, self._task, self._stream = self._task, None, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(
        self, client: AgentmailClient, stream: Subscription[InboxItem | AgentEvent]
    ) -> None:
        try:
            async with stream:
                async for entry in stream:
                    if isinstance(entry, InboxItem):
                        await self._updated(INBOX_URI)
                        await self._push_headline(client, entry)
                    elif isinstance(entry.detail, ReservationEvent):
                        await self._updated(RESERVATIONS_URI)
        except AgentmailError as error:
            # Only a permanent failure ends it (the subscription reconnects by itself); the
            # next subscribe or register_agent starts a new one.
            logger.warning(
                "agentmail-mcp: the inbox stream ended: [%s] %s", error.reason, error.message
            )

    async def _updated(self, uri: str) -> None:
        for _, session, uris in list(self._subscribers):
            if uri in uris:
                await session.send_resource_updated(uri)

    async def _push_headline(self, client: AgentmailClient, item: InboxItem) -> None:
        session = self._channel_session
        if session is None:
            return
        if await self._gate.admits(client, item.message.sender):
            await session.send_notification(channel_notification(item.message))
