"""One opened backend (:class:`Storage`), its commit feed and its listeners.

The invariants it keeps are listed in :mod:`agentmail_server.storage.ports`.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Protocol

from agentmail_server.domain.events import Commit
from agentmail_server.errors import Unavailable
from agentmail_server.storage.ports.reads import (
    MailReads,
    ReceiptReads,
    ReservationReads,
    SearchReads,
)
from agentmail_server.storage.ports.writes import (
    AgentWrites,
    ContactWrites,
    LifecycleWrites,
    MailWrites,
    ReservationWrites,
    RetentionWrites,
)
from agentmail_server.storage.stats import ReadPoolStats, WriterStats

CommitListener = Callable[[Commit], None]
# Told the error while a backend's commits fail as a whole, then None once they succeed.
WriteHealthListener = Callable[[Unavailable | None], None]


class CommitFeed(Protocol):
    """Where committed changes are announced (invariants 1 and 4)."""

    def subscribe(self, listener: CommitListener) -> None:
        """Call ``listener`` on the event loop with every later commit.

        Listeners must be quick and must not block: they run in the writer's path.
        """
        ...


class Storage(Protocol):
    """One opened backend: its interfaces, its life cycle and its statistics."""

    @property
    def mail(self) -> MailWrites:
        """Mail writes."""
        ...

    @property
    def retention(self) -> RetentionWrites:
        """Purges of old mail."""
        ...

    @property
    def agents(self) -> AgentWrites:
        """Project and agent writes."""
        ...

    @property
    def reservations(self) -> ReservationWrites:
        """File reservation writes."""
        ...

    @property
    def reservation_reads(self) -> ReservationReads:
        """File reservation reads."""
        ...

    @property
    def contacts(self) -> ContactWrites:
        """Contact policy and link writes."""
        ...

    @property
    def lifecycle(self) -> LifecycleWrites:
        """Retirement and presence writes."""
        ...

    @property
    def reads(self) -> MailReads:
        """Reads."""
        ...

    @property
    def search(self) -> SearchReads:
        """Search reads."""
        ...

    @property
    def receipts(self) -> ReceiptReads:
        """Receipt and acknowledgement reads."""
        ...

    @property
    def feed(self) -> CommitFeed:
        """The commit feed."""
        ...

    @property
    def database_files(self) -> tuple[tuple[str, pathlib.Path], ...]:
        """``(name, path)`` of local files whose size the metrics export (may be empty)."""
        ...

    def writer_stats(self) -> WriterStats:
        """A snapshot of the write queue and its commits."""
        ...

    def read_pool_stats(self) -> ReadPoolStats:
        """A snapshot of the read connections."""
        ...

    def watch_writes(self, listener: WriteHealthListener) -> None:
        """Call ``listener`` on the loop with the error when whole commits start failing,
        and with None when one succeeds again (see invariant 10)."""
        ...

    async def shared_cursor_key(self, local: bytes) -> bytes:
        """The key cursors are sealed with: ``local`` (the data folder's) on a backend one
        server owns; on a shared database, the key stored there, which the first server to
        start stores from its own ``local`` key, so that every server accepts every cursor."""
        ...

    async def close(self) -> None:
        """Refuse new writes, commit everything already accepted, then close."""
        ...
