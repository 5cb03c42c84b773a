"""The SQLite read pool: which connection a query borrows, and in what order waiters get one."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3
import threading
from collections.abc import AsyncIterator

import pytest
from agentmail_server.storage.sqlite.readers import ReadPool


@pytest.fixture
async def pool(tmp_path: pathlib.Path) -> AsyncIterator[ReadPool]:
    path = tmp_path / "read.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
    reads = ReadPool(path, 3)
    await reads.start()
    yield reads
    await reads.close()


def _thread(_: sqlite3.Connection) -> int:
    return threading.get_ident()


async def test_sequential_queries_keep_borrowing_the_connection_just_returned(
    pool: ReadPool,
) -> None:
    threads = {await pool.run(_thread) for _ in range(6)}
    assert len(threads) == 1


async def test_waiters_get_a_connection_in_arrival_order(pool: ReadPool) -> None:
    order: list[int] = []
    release, all_held = asyncio.Event(), asyncio.Event()
    held: list[int] = []

    async def hold() -> None:
        async with pool.connection():
            held.append(1)
            if len(held) == 3:
                all_held.set()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(3)]
    await asyncio.wait_for(all_held.wait(), 5)
    assert pool.stats().idle == 0

    async def wait(number: int) -> None:
        async with pool.connection():
            order.append(number)

    waiters = []
    for number in range(5):
        waiters.append(asyncio.create_task(wait(number)))
        await asyncio.sleep(0)  # each waiter queues before the next one starts
    release.set()
    await asyncio.gather(*holders, *waiters)
    assert order == [0, 1, 2, 3, 4]
