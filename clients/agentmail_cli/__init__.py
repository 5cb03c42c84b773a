"""``agentmail``: the agentmail service from a shell, over the typed client's public API.

Run ``agentmail --help``; :func:`main` is the console script's entry point.
"""

from ._main import main

__all__ = ["main"]
