"""``python -m agentmail_cli``: the same as the ``agentmail`` command (the git hook uses it)."""

from ._main import main

main()
