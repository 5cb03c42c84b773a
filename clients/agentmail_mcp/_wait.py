"""``wait_for_mail``: a long poll on the inbox stream, with a cursor that survives restarts.

It returns at once when anything (mail or a coordination event) is newer than the saved
cursor, and otherwise blocks on one short-lived subscription until something arrives or the
timeout passes. The cursor is saved (atomically) before returning, so the next call, also in
a restarted bridge, neither repeats nor skips anything.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from agentmail_client import AgentEvent, AgentmailError, InboxItem
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from ._bridge import Bridge, event_summary, headline, tool_error
from ._config import clear_cursor, read_cursor, write_private

# After the first arrival, how long to keep collecting what comes right behind it, so a burst
# is returned as one batch rather than one call per message. It adds to every wake-up's
# latency, so it is short: what is already buffered comes at once.
_BATCH_WINDOW = 0.01
# How often a waiting call reports progress (only clients that sent a progress token get it):
# every 10 s, or twice in a shorter wait, so even a short wait shows it is alive.
_PROGRESS_EVERY = 10.0
_CURSOR_REASONS = {"INVALID_PAGE_TOKEN", "CURSOR_AHEAD"}
_RESYNC = (
    "the saved cursor is not valid for this agent on this server (another agent's, or the "
    "server was restored); call wait_for_mail with reset=true to start again from now, and "
    "fetch_inbox to see what is already there"
)


def register_wait_tool(server: MCPServer, bridge: Bridge) -> None:
    """Adds ``wait_for_mail`` to ``server``."""

    @server.tool()
    async def wait_for_mail(
        ctx: Context,
        timeout_seconds: Annotated[
            float,
            Field(
                ge=1,
                le=600,
                description=(
                    "Longest wait, in seconds. Keep the default 25 unless your client allows "
                    "longer tool calls (up to 600)."
                ),
            ),
        ] = 25,
        max_messages: Annotated[
            int,
            Field(
                ge=1,
                le=100,
                description=("Most entries to return; the rest come with the next call."),
            ),
        ] = 20,
        reset: Annotated[
            bool,
            Field(
                description=("Forget the saved cursor and wait only for what arrives from now on.")
            ),
        ] = False,
    ) -> dict[str, Any]:
        """Wait for new mail or coordination events for this agent, instead of polling.

        Returns at once if anything arrived since the previous call, else blocks until
        something arrives or timeout_seconds pass (then returns timed_out=true and no
        messages: just call it again). Messages come as headlines (id, sender, subject,
        importance, ack_required, thread, created), without bodies: use get_message or
        get_thread to read one. Events are acknowledgements of your mail, contact requests and
        answers, and changes to your file reservations. Nothing is marked read. The bridge
        remembers where it stopped, so consecutive calls neither repeat nor skip anything,
        even across restarts. The first call ever starts from now (use fetch_inbox for older
        mail)."""
        path = bridge.config.cursor_file
        if reset:
            await asyncio.to_thread(clear_cursor, path)
        cursor = await asyncio.to_thread(read_cursor, path)
        client = await bridge.client()
        messages: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + timeout_seconds
        progress_every = min(_PROGRESS_EVERY, timeout_seconds / 2)
        last = cursor
        try:
            async with client.subscribe_with_events(cursor=cursor, include_bodies=False) as sub:
                while len(messages) + len(events) < max_messages:
                    now = loop.time()
                    if messages or events:
                        # Something arrived: take only what follows right behind it.
                        wait = min(_BATCH_WINDOW, max(deadline - now, 0.0))
                    else:
                        wait = min(progress_every, deadline - now)
                    if wait <= 0:
                        break
                    try:
                        async with asyncio.timeout(wait):
                            entry = await anext(sub)
                    except TimeoutError:
                        if messages or events or loop.time() >= deadline:
                            break
                        await ctx.report_progress(
                            loop.time() - start, timeout_seconds, "waiting for mail"
                        )
                        continue
                    except StopAsyncIteration:
                        break
                    if isinstance(entry, InboxItem):
                        messages.append(headline(entry.message))
                    elif isinstance(entry, AgentEvent):
                        events.append(event_summary(entry))
                    last = entry.cursor
                if last is None and sub.caught_up.is_set():
                    # The first call ever: remember the inbox tail it started at.
                    last = sub.cursor
        except AgentmailError as error:
            hint = _RESYNC if error.reason in _CURSOR_REASONS else None
            raise tool_error("wait_for_mail", error, hint) from None
        if last is not None and last != cursor:
            await asyncio.to_thread(write_private, path, last + "\n")
        return {
            "messages": messages,
            "events": events,
            "timed_out": not messages and not events,
            "waited_seconds": round(loop.time() - start, 3),
            # Opaque; the bridge keeps it itself. Shown so a transcript says where it stood.
            "cursor": last,
        }
