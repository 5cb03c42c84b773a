"""``python -m agentmail_mcp``: the same as the ``agentmail-mcp`` command."""

from ._main import main

main()
