"""The ``agentmail-mcp`` command: build the MCP server for one agent and serve it over stdio
(or, with ``--http``, streamable HTTP on a loopback port)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import anyio
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer

from ._bridge import Bridge
from ._channel import CAPABILITY
from ._config import BridgeConfig, ConfigError, parse_args
from ._coordination_tools import register_coordination_tools
from ._mail_tools import register_mail_tools
from ._push import Push
from ._resources import register_resources
from ._server import BridgeServer
from ._wait import register_wait_tool

_INSTRUCTIONS = (
    "agentmail: mail between coding agents working on the same project, plus file "
    "reservations and contacts. You act as one agent, fixed by this server's configuration. "
    "Start with register_agent (once). Check conflicts and file_reservation_paths before editing "
    "shared files. To learn of new mail, call wait_for_mail (it blocks until something arrives "
    "or its timeout) rather than polling fetch_inbox."
)
_CHANNEL_INSTRUCTIONS = (
    " New mail is also announced as <channel> events carrying only its headline (sender, "
    "subject, importance, message_id): read the message with get_message before acting on it."
)
# The HTTP endpoint has no authentication of its own (whoever reaches it acts as the agent),
# so it listens on loopback only.
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
logger = logging.getLogger("agentmail_mcp")


def build_server(config: BridgeConfig) -> MCPServer:
    """The MCP server with every tool, acting as ``config``'s agent.

    Raises:
        ConfigError: A TLS file cannot be read.
    """
    bridge = Bridge(config)
    push = Push(bridge, channel=config.channel)

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await push.close()
            await bridge.close()
            _report_leaks()

    instructions = _INSTRUCTIONS + (_CHANNEL_INSTRUCTIONS if config.channel else "")
    server = BridgeServer(
        "agentmail", instructions=instructions, lifespan=lifespan, log_level="WARNING"
    )
    register_mail_tools(server, bridge)
    register_coordination_tools(server, bridge)
    register_wait_tool(server, bridge)
    register_resources(server, bridge)
    server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, push.subscribe)
    server.add_request_handler(
        "resources/unsubscribe", types.UnsubscribeRequestParams, push.unsubscribe
    )
    if config.channel:
        server.experimental[CAPABILITY] = {}

        async def on_initialized(
            ctx: ServerRequestContext[Any, Any], call_next: CallNext
        ) -> HandlerResult:
            result = await call_next(ctx)
            if ctx.method == "notifications/initialized":
                await push.attach_channel(ctx.session)
            return result

        server.middleware.append(on_initialized)
    return server


def _report_leaks() -> None:
    """Says on stderr if a task of the bridge outlived its shutdown (tests look for it)."""
    leaked = sorted(
        task.get_name()
        for task in asyncio.all_tasks()
        if task.get_name().startswith("agentmail-") and not task.done()
    )
    if leaked:
        logger.warning("agentmail-mcp: tasks leaked at shutdown: %s", ", ".join(leaked))


async def _serve_http(server: MCPServer, host: str, port: int) -> None:
    """Serves streamable HTTP at ``http://host:port/mcp`` until interrupted."""
    import uvicorn  # noqa: PLC0415 - only --http pays for it (the SDK depends on it)

    # Bound here, before uvicorn starts, so the port is known (also for port 0) and the line
    # below is printed only once connections are accepted.
    listener = socket.create_server(
        (host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET
    )
    bound = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"agentmail-mcp: streamable HTTP at http://{shown}:{bound}/mcp", file=sys.stderr, flush=True
    )
    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, log_level="warning")
    await uvicorn.Server(config).serve(sockets=[listener])


def _usage(text: str) -> NoReturn:
    """Exits with argparse's usage status and one line on stderr."""
    print(f"agentmail-mcp: error: {text}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    """Runs the bridge over stdio (or streamable HTTP) until the client closes it."""
    config = parse_args(argv if argv is not None else sys.argv[1:])
    if config.http is not None and config.http[0] not in _LOOPBACK:
        _usage(
            f"--http {config.http[0]} refused: the HTTP endpoint has no authentication of its "
            "own, so it listens on loopback only (127.0.0.1, localhost or ::1)"
        )
    try:
        server = build_server(config)
    except ConfigError as error:
        _usage(str(error))
    if config.http is None:
        server.run("stdio")
    else:
        host, port = config.http
        anyio.run(_serve_http, server, host, port)
