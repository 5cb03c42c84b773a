"""Handing a group commit's outcomes back to its callers, the same way on every backend.

Each writer (SQLite's thread, PostgreSQL's task) commits a batch of queued operations at
once; this is what happens next, on the event loop: each committed operation records what
it changed into the batch's one :class:`~agentmail_server.domain.events.Commit`, and each
caller's future gets its result or its error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agentmail_server.domain.events import Commit, CommitBuilder


class Pending(Protocol):
    """A queued operation as a writer keeps it: who waits, and how to record its changes."""

    @property
    def future(self) -> asyncio.Future[Any]:
        """Resolved with the operation's result or error."""

    @property
    def record(self) -> Callable[[CommitBuilder, Any], None] | None:
        """Adds what the committed operation changed to the batch's commit (None: nothing)."""


def hand_back(batch: Sequence[Pending], outcomes: Sequence[tuple[bool, object]]) -> Commit | None:
    """Resolve each caller's future with its outcome (``(ok, result or error)``, in batch
    order) and return what the batch changed, for the feed (None when nothing).

    A caller that was cancelled is skipped: its write stands and is still recorded.
    """
    changes = CommitBuilder()
    for pending, (ok, value) in zip(batch, outcomes, strict=True):
        if ok and pending.record is not None:
            pending.record(changes, value)
        if pending.future.done():  # the caller was cancelled; the write stands
            continue
        if ok:
            pending.future.set_result(value)
        else:
            pending.future.set_exception(value)  # type: ignore[arg-type]
    return changes.build()
