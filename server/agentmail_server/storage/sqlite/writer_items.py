"""What travels through the writer's queue to its thread, and how outcomes come back.

Jobs are the operations callers submit; calls run something else on the thread (opening the
connection, a probe's disk check); a kick asks for an index step and the stop sentinel ends
the thread after everything queued before it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from agentmail_server.domain.events import CommitBuilder

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], T]
# Records what a committed operation changed (its result) for the commit feed.
Recorder = Callable[[CommitBuilder, T], None]


class Kick:
    """Queued (instead of a job) to wake the writer for an index step."""


KICK = Kick()


class Stop:
    """Queued by close() behind the last job: finish the index, close, end the thread."""


STOP = Stop()


@dataclasses.dataclass
class Job(Generic[T]):
    """An operation to run in a group commit; its result goes to ``future`` on the loop."""

    operation: Operation[T]
    future: asyncio.Future[T]
    record: Recorder[T] | None


@dataclasses.dataclass
class Call(Generic[T]):
    """Something else to run on the writer thread (open, a probe's check); its outcome goes to
    ``future`` on the loop."""

    function: Callable[[], T]
    future: asyncio.Future[T]


Item = Job[Any] | Call[Any] | Kick | Stop


def settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Hand a writer-thread outcome to a loop future (unless its waiter gave up)."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
