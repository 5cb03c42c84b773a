"""The SDK's ``MCPServer`` with the two things its high-level class does not expose.

``MCPServer`` registers no ``resources/subscribe`` handler and its stdio runner announces no
experimental capability, while the bridge needs both: the inbox subscription, and
``claude/channel`` for Claude Code's channel mode. Both are one call on the SDK's low-level
``Server``, which ``MCPServer`` keeps as ``_lowlevel_server``; this subclass is the one place
that reaches it, so an SDK upgrade that renames it fails here, loudly, not at a distance.
"""

from __future__ import annotations

from typing import Any

from mcp.server.lowlevel.server import RequestHandler
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from pydantic import BaseModel


class BridgeServer(MCPServer[Any]):
    """An ``MCPServer`` that can add request handlers and announce experimental capabilities."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.experimental: dict[str, dict[str, Any]] = {}

    def add_request_handler(
        self, method: str, params_type: type[BaseModel], handler: RequestHandler[Any, Any]
    ) -> None:
        """Serves ``method`` (a spec method ``MCPServer`` leaves unserved) with ``handler``."""
        self._lowlevel_server.add_request_handler(method, params_type, handler)

    async def run_stdio_async(self) -> None:
        """Serves stdio like ``MCPServer``, announcing ``experimental`` in the handshake."""
        lowlevel = self._lowlevel_server
        options = lowlevel.create_initialization_options(
            experimental_capabilities=self.experimental or None
        )
        async with stdio_server() as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, options)
