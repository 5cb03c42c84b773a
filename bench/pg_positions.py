"""Two ways to hand out gap-free, commit-ordered positions to writers in several processes.

Why this exists: the PostgreSQL backend must never let a reader pass a position whose
transaction has not committed yet (issue 17). Both designs serialise position assignment until
commit; this measures what each costs. Each writer is its own connection (as a separate server
process would be) running the backend's send transaction shape: take a position, insert the
message and one delivery, commit.

- ``counter``: ``UPDATE positions SET value = value + 1 ... RETURNING value`` (the backend's
  choice: one row lock held until commit, one statement).
- ``advisory``: ``pg_advisory_xact_lock(k)`` then ``max(id) + 1`` over the messages (a lock held
  until commit, then an index seek; two statements).

Run: ``python -m bench.pg_positions [--url ...] [--writers 8] [--sends 1500]``. It prints
sends/s and mean transaction time per design, in ABBA order; figures only, no assertion.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from bench import pg_scratch

SCHEMA = """
CREATE TABLE positions (name text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO positions VALUES ('mail', 0);
CREATE TABLE messages (id bigint PRIMARY KEY, body text NOT NULL);
CREATE TABLE deliveries (agent_id bigint, message_id bigint, PRIMARY KEY (agent_id, message_id));
"""
Conn = psycopg.AsyncConnection[tuple[Any, ...]]


async def counter(conn: Conn) -> int:
    cursor = await conn.execute(
        "UPDATE positions SET value = value + 1 WHERE name = 'mail' RETURNING value"
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def advisory(conn: Conn) -> int:
    await conn.execute("SELECT pg_advisory_xact_lock(42)")
    cursor = await conn.execute("SELECT coalesce(max(id), 0) + 1 FROM messages")
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def run(
    url: str, design: Callable[[Conn], Awaitable[int]], writers: int, sends: int
) -> dict[str, float]:
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(writers)]
    remaining = sends
    spent = 0.0

    async def writer(conn: Conn) -> None:
        nonlocal remaining, spent
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            async with conn.transaction():
                position = await design(conn)
                async with conn.pipeline():
                    await conn.execute(
                        "INSERT INTO messages (id, body) VALUES (%s, 'x')", (position,)
                    )
                    await conn.execute("INSERT INTO deliveries VALUES (1, %s)", (position,))
            spent += time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(writer(c) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    wall = time.perf_counter() - t0
    return {"sends_per_s": round(sends / wall), "mean_txn_ms": round(spent / sends * 1000, 2)}


async def main() -> None:
    parser = pg_scratch.parser(__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--sends", type=int, default=1500)
    args = parser.parse_args()
    designs = {"counter": counter, "advisory": advisory}
    results: dict[str, Any] = {"writers": args.writers, "sends": args.sends}
    for index, name in enumerate(("counter", "advisory", "advisory", "counter")):
        with pg_scratch.scratch_database(args.url) as url:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(SCHEMA.encode())
            results[f"{index}-{name}"] = await run(url, designs[name], args.writers, args.sends)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
