"""psycopg 3 (with psycopg_pool) against asyncpg on agentmail's two hottest PostgreSQL queries.

Why this exists: issue 17 asks to pick the async driver by measuring both on our send insert and
our inbox page, not by reputation. Each driver runs the same SQL on the same fresh tables in a
scratch database (created and dropped here), with the same concurrency, and we report
operations per second and client CPU per operation (the server process's CPU is PostgreSQL's,
shared by both). The send is one transaction exactly as the backend writes it: bump the
single-row position counter, insert the message and three deliveries, commit. The inbox page is
the keyset seek of 50 deliveries joined to their envelopes.

Run: ``python -m bench.pg_drivers [--url postgresql://postgres@127.0.0.1:5432/postgres]
[--sends 2000] [--pages 4000] [--concurrency 8]``. Figures only, no assertion.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import psycopg_pool

from bench import pg_scratch

SCHEMA = """
CREATE TABLE counter (id int PRIMARY KEY, value bigint NOT NULL);
INSERT INTO counter VALUES (1, 0);
CREATE TABLE messages (id bigint PRIMARY KEY, sender_id bigint NOT NULL, subject text NOT NULL,
    created_at bigint NOT NULL, body text NOT NULL);
CREATE TABLE deliveries (agent_id bigint NOT NULL, message_id bigint NOT NULL,
    kind smallint NOT NULL, read_at bigint, PRIMARY KEY (agent_id, message_id));
"""
NEXT = "UPDATE counter SET value = value + 1 WHERE id = 1 RETURNING value"
INSERT_MESSAGE = (
    "INSERT INTO messages (id, sender_id, subject, created_at, body) VALUES ($1, $2, $3, $4, $5)"
)
INSERT_DELIVERY = (
    "INSERT INTO deliveries (agent_id, message_id, kind)"
    " SELECT a, $1, 1 FROM unnest($2::bigint[]) a"
)
PAGE = (
    "SELECT d.message_id, d.kind, d.read_at, m.sender_id, m.subject, m.created_at"
    " FROM deliveries d JOIN messages m ON m.id = d.message_id"
    " WHERE d.agent_id = $1 AND d.message_id < $2 ORDER BY d.message_id DESC LIMIT 50"
)
BODY = "x" * 400


def _percent_s(sql: str) -> str:
    """asyncpg's $n placeholders as psycopg's %s (the statements use each one once, in order)."""
    for n in range(9, 0, -1):
        sql = sql.replace(f"${n}", "%s")
    return sql


async def _timed(
    concurrency: int, count: int, op: Callable[[int], Awaitable[None]]
) -> dict[str, float]:
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            i = next_index
            next_index += 1
            await op(i)

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"ops_per_s": round(count / wall), "client_cpu_us_per_op": round(cpu / count * 1e6, 1)}


async def run_asyncpg(url: str, sends: int, pages: int, conc: int) -> dict[str, Any]:
    pool = await asyncpg.create_pool(url, min_size=conc, max_size=conc)
    try:

        async def send(i: int) -> None:
            async with pool.acquire() as conn, conn.transaction():
                mid = await conn.fetchval(NEXT)
                await conn.execute(INSERT_MESSAGE, mid, 1, f"subject {i}", i, BODY)
                await conn.execute(INSERT_DELIVERY, mid, [2, 3, 4])

        async def page(i: int) -> None:
            async with pool.acquire() as conn:
                rows = await conn.fetch(PAGE, 2 + i % 3, 10**12)
                assert rows

        return {
            "send": await _timed(conc, sends, send),
            "inbox_page": await _timed(conc, pages, page),
        }
    finally:
        await pool.close()


async def run_psycopg(url: str, sends: int, pages: int, conc: int) -> dict[str, Any]:
    pool = psycopg_pool.AsyncConnectionPool(url, min_size=conc, max_size=conc, open=False)
    await pool.open(wait=True)
    insert_message, insert_delivery, page_sql = map(
        _percent_s, (INSERT_MESSAGE, INSERT_DELIVERY, PAGE)
    )
    try:

        async def send(i: int) -> None:
            async with pool.connection() as conn, conn.transaction():
                cur = await conn.execute(NEXT)
                row = await cur.fetchone()
                assert row is not None
                mid = row[0]
                await conn.execute(insert_message, (mid, 1, f"subject {i}", i, BODY))
                await conn.execute(insert_delivery, (mid, [2, 3, 4]))

        async def page(i: int) -> None:
            async with pool.connection() as conn:
                cur = await conn.execute(page_sql, (2 + i % 3, 10**12))
                assert await cur.fetchall()

        return {
            "send": await _timed(conc, sends, send),
            "inbox_page": await _timed(conc, pages, page),
        }
    finally:
        await pool.close()


async def main() -> None:
    parser = pg_scratch.parser(__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--order",
        default="asyncpg,psycopg3,psycopg3,asyncpg",
        help="drivers in run order (ABBA by default, so drift on a shared machine evens out)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"concurrency": args.concurrency}
    runners = {"asyncpg": run_asyncpg, "psycopg3": run_psycopg}
    for run, name in enumerate(args.order.split(",")):
        runner = runners[name]
        with pg_scratch.scratch_database(args.url) as url:
            conn = await asyncpg.connect(url)
            await conn.execute(SCHEMA)
            await conn.close()
            results[f"{run}-{name}"] = await runner(url, args.sends, args.pages, args.concurrency)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
