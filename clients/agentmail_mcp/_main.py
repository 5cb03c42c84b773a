"""The ``agentmail-mcp`` command: build the MCP server for one agent and serve it over stdio."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

from mcp.server.mcpserver import MCPServer

from ._bridge import Bridge
from ._config import BridgeConfig, parse_args
from ._coordination_tools import register_coordination_tools
from ._mail_tools import register_mail_tools
from ._resources import register_resources
from ._wait import register_wait_tool

_INSTRUCTIONS = (
    "agentmail: mail between coding agents working on the same project, plus file "
    "reservations and contacts. You act as one agent, fixed by this server's configuration. "
    "Start with register_agent (once). Check conflicts and file_reservation_paths before editing "
    "shared files. To learn of new mail, call wait_for_mail (it blocks until something arrives "
    "or its timeout) rather than polling fetch_inbox."
)


def build_server(config: BridgeConfig) -> MCPServer:
    """The MCP server with every tool, acting as ``config``'s agent."""
    bridge = Bridge(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await bridge.close()

    server = MCPServer(
        "agentmail", instructions=_INSTRUCTIONS, lifespan=lifespan, log_level="WARNING"
    )
    register_mail_tools(server, bridge)
    register_coordination_tools(server, bridge)
    register_wait_tool(server, bridge)
    register_resources(server, bridge)
    return server


def main(argv: list[str] | None = None) -> None:
    """Runs the bridge over stdio until the client closes it."""
    config = parse_args(argv if argv is not None else sys.argv[1:])
    build_server(config).run("stdio")
