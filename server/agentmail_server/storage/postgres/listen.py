"""The wake-up side of cross-process push: one dedicated LISTEN connection per process.

Each send transaction that took positions ends with one ``pg_notify(CHANNEL, highest
position)`` (:mod:`.writer`); this process LISTENs on its own connection — never a pooled one:
psycopg cannot run statements on a connection while its notifications are being read
(psycopg/psycopg#340), and LISTEN does not survive a transaction pooler — and hands each
payload to :meth:`OrderedFeed.hint <.push.OrderedFeed.hint>`, which reads the tables.

NOTIFY has no replay, so nothing depends on receiving every notification: after each (re)connect
the listener LISTENs *first* and then asks for a catch-up (a commit between the two is read by
the catch-up, one after it is notified), and every :data:`POLL_SECONDS` without a notification
it asks again (the safety poll: a lost notification costs at most that much latency). A lost
connection is reopened with a doubling backoff up to :data:`MAX_BACKOFF_SECONDS`.

The connection's ``application_name`` is ``agentmail-listen-<pid>`` so operators (and the tests)
can find it in ``pg_stat_activity``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable

import psycopg

from agentmail_server.storage.postgres.connection import CONNECT_TIMEOUT_SECONDS, describe

logger = logging.getLogger(__name__)

CHANNEL = "agentmail_positions"
# The safety poll: how long the listener waits for a notification before catching up anyway.
POLL_SECONDS = 1.5
# Reconnect delays double from the first to the last.
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 5.0


def application_name() -> str:
    """The ``application_name`` of this process's LISTEN connection."""
    return f"agentmail-listen-{os.getpid()}"


def parse_hint(payload: str) -> int | None:
    """The position a notification names, or None for a payload that is not one (then the
    listener catches up anyway: a hint can only cost a read)."""
    try:
        return int(payload)
    except ValueError:
        return None


class Listener:
    """Keeps one LISTEN connection open and turns what it hears into ``hint`` calls."""

    def __init__(self, url: str, hint: Callable[[int | None], None]) -> None:
        self._url = url
        self._hint = hint
        self._task: asyncio.Task[None] | None = None
        self.connects = 0

    def start(self) -> None:
        """Start listening (in the background: a database that is down now is retried)."""
        self._task = asyncio.create_task(self._run(), name="postgres-listen")

    async def _run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    application_name=application_name(),
                )
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}".encode())
                    self.connects += 1
                    backoff = FIRST_BACKOFF_SECONDS
                    self._hint(None)  # after LISTEN: whatever committed before it is read
                    while True:
                        async for note in conn.notifies(timeout=POLL_SECONDS):
                            self._hint(parse_hint(note.payload))
                        self._hint(None)  # the safety poll
            except psycopg.Error as exc:
                logger.warning(
                    "the LISTEN connection to %s failed (%s); reconnecting in %.2f s",
                    describe(self._url),
                    type(exc).__name__,
                    backoff,
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
