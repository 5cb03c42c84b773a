"""The commit feed's one implementation: a list of listeners called in order."""

from __future__ import annotations

import logging

from agentmail_server.domain.events import Commit
from agentmail_server.storage.ports import CommitListener

logger = logging.getLogger(__name__)


class CommitPublisher:
    """Publishes each :class:`Commit` to every listener, in subscription order.

    A backend owns one and calls :meth:`publish` on the event loop after each durable commit.
    A failing listener is logged and does not keep the others from the commit.
    """

    def __init__(self) -> None:
        self._listeners: list[CommitListener] = []

    def subscribe(self, listener: CommitListener) -> None:
        """Call ``listener`` with every later commit."""
        self._listeners.append(listener)

    def publish(self, commit: Commit) -> None:
        """Hand ``commit`` to every listener."""
        for listener in self._listeners:
            try:
                listener(commit)
            except Exception:
                logger.exception("commit listener failed")
