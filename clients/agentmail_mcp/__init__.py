"""``agentmail-mcp``: an MCP server (stdio) that lets one agent use agentmail from an MCP harness.

One bridge process serves one agent identity, configured by flags or ``AGENTMAIL_*`` variables.
It is a thin client of the agentmail server: no database, no git, only the typed client.
"""

from ._main import main

__all__ = ["main"]
