"""The read side: queries on a bounded pool of autocommit connections.

Each query runs alone on a pooled connection (one statement, one snapshot), as the SQLite
backend's read pool does; reads never wait for the writer. A database error becomes UNAVAILABLE
(STORAGE_UNAVAILABLE), never INTERNAL.

PostgreSQL text cannot hold NUL, and the services refuse it in everything they store, so a
lookup by a text containing one (a malformed slug or name in a read request) matches nothing:
such a query returns no rows without being sent (PostgreSQL would reject it as an error).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import psycopg
import psycopg_pool

from agentmail_server.storage.postgres.connection import Pool, open_pool, unavailable
from agentmail_server.storage.stats import ReadPoolStats

Row = tuple[Any, ...]
# Runs one statement inside a snapshot (see ReadPool.snapshot).
Fetch = Callable[[str, Sequence[Any]], Awaitable[list[Row]]]


class ReadPool:
    """``size`` pooled connections serving every read."""

    def __init__(self, url: str, size: int) -> None:
        self._size = size
        self._pool: Pool = open_pool(url, size)
        self._queries = 0

    async def start(self) -> None:
        """Open the connections (waits until they are all up)."""
        await self._pool.open(wait=True)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of one query (none when a text parameter holds NUL: see above)."""
        if any(isinstance(p, str) and "\x00" in p for p in params):
            return []
        self._queries += 1
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(sql.encode(), params)
                return await cursor.fetchall()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise unavailable(exc) from exc

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of one query, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Fetch]:
        """A fetch function whose statements all read one REPEATABLE READ snapshot."""
        try:
            async with self._pool.connection() as conn:
                await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
                try:
                    async with conn.transaction():

                        async def fetch(sql: str, params: Sequence[Any] = ()) -> list[Row]:
                            self._queries += 1
                            cursor = await conn.execute(sql.encode(), params)
                            return await cursor.fetchall()

                        yield fetch
                finally:
                    await conn.set_isolation_level(None)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise unavailable(exc) from exc

    async def fetch_together(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[Row]]:
        """Every row of each statement, all read in one REPEATABLE READ snapshot and sent in
        one round trip (pipeline mode): for reads whose latency matters (cross-process push)
        and whose statements do not depend on each other's results."""
        self._queries += len(statements)
        try:
            async with self._pool.connection() as conn:
                async with conn.pipeline():
                    await conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    cursors = [await conn.execute(sql.encode(), p) for sql, p in statements]
                    await conn.execute(b"COMMIT")
                return [await cursor.fetchall() for cursor in cursors]
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise unavailable(exc) from exc

    def stats(self) -> ReadPoolStats:
        """How many connections are idle now, and how many queries ran."""
        idle = self._pool.get_stats().get("pool_available", 0)
        return ReadPoolStats(size=self._size, idle=idle, queries=self._queries)

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()
