"""Connections to PostgreSQL: the read pool, the writer's own connection, and error mapping.

psycopg 3 with ``psycopg_pool`` (chosen over asyncpg by ``bench/pg_drivers.py``, see the
README's PostgreSQL section): its ``AsyncConnection`` is typed end to end (``mypy --strict``
without stubs), it has a pipeline mode for the writer's batches, and on our send transaction it
measured as fast as asyncpg. Statements are prepared after their fifth use on a connection
(psycopg's default), so the hot queries are parsed once per connection.

The URL may carry a password: it is never logged, and errors name only its host, port and
database (:func:`describe`).
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict

from agentmail_server.errors import Unavailable

Conn = psycopg.AsyncConnection[tuple[Any, ...]]
Pool = psycopg_pool.AsyncConnectionPool[Conn]

# How long a read may wait for a pooled connection before failing with UNAVAILABLE.
POOL_TIMEOUT_SECONDS = 5.0
# How long opening waits for the server at start-up.
CONNECT_TIMEOUT_SECONDS = 10


def describe(url: str) -> str:
    """``host:port/dbname`` of ``url``, without user or password (for logs and errors)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an unreadable database URL)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


async def connect(url: str) -> Conn:
    """One connection in autocommit mode (transactions are explicit), for the writer and the
    migrations.

    Raises:
        RuntimeError: the server cannot be reached or refuses us (the URL's password is not
            in the message).
    """
    try:
        return await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.Error as exc:
        raise RuntimeError(
            f"could not connect to PostgreSQL at {describe(url)}: {type(exc).__name__}"
        ) from None


def open_pool(url: str, size: int) -> Pool:
    """A pool of ``size`` autocommit connections for reads (opened by the caller).

    Bounded: a read that finds every connection busy waits up to
    :data:`POOL_TIMEOUT_SECONDS` in the pool's queue, then fails with UNAVAILABLE.
    """
    return psycopg_pool.AsyncConnectionPool(
        url,
        min_size=size,
        max_size=size,
        open=False,
        timeout=POOL_TIMEOUT_SECONDS,
        kwargs={"autocommit": True},
        name="agentmail-read",
    )


def unavailable(exc: BaseException) -> Unavailable:
    """The UNAVAILABLE error of a failed PostgreSQL call (nothing of the URL in it)."""
    return Unavailable(
        "STORAGE_UNAVAILABLE",
        f"the database is unavailable ({type(exc).__name__}); retry shortly",
        retry_after_seconds=1,
    )
