"""Does group commit pay off on PostgreSQL? The backend's send path with and without it.

Why this exists: issue 17 says concurrent sends in one process share a transaction (or
pipelined statements) and asks for a measurement. Here one process runs the PostgreSQL storage
itself (:class:`~agentmail_server.storage.postgres.backend.PostgresStorage`: its writer, its
send operation with the contact-policy checks every real send makes) with no gRPC in front, so
what differs between the two settings is the writer alone:

- ``group``: ``max_batch`` 512 (the server's default ``--writer-max-batch``): everything
  queued commits in one transaction, a SAVEPOINT per send;
- ``single``: ``max_batch`` 1: every send is a transaction of its own (one commit, one WAL
  flush and one NOTIFY each).

Each setting runs at each concurrency (sends in flight on one event loop) on a fresh scratch
database, in ABBA order (group, single, single, group) so drift on a shared machine falls on
both; the better of the two runs of a setting is reported. Figures: sends/s (wall), this
process's CPU per send (the writer, psycopg, the storage code) and the PostgreSQL server's CPU
per send (every ``postgres`` process, from /proc), and the mean sends per commit.

Run: ``python -m bench.pg_group_commit [--url ...] [--sends 2000] [--concurrency 1,16,64]``.
Figures only, no assertion.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from agentmail_server.domain.contacts import SendRules
from agentmail_server.domain.drafts import Draft
from agentmail_server.domain.models import Importance, Recipient, RecipientKind, now_micros
from agentmail_server.storage.postgres.backend import PostgresStorage

from bench import pg_scratch
from bench.seed import registration

SETTINGS = {"group": 512, "single": 1}
ORDER = ("group", "single", "single", "group")
BODY = "x" * 512


async def _team(storage: PostgresStorage, senders: int) -> tuple[list[Draft], Recipient]:
    """A project with ``senders`` senders and one recipient; one draft per sender."""
    now = now_micros()
    project, _ = await storage.agents.ensure_project("/bench/group-commit", now)

    async def agent(name: str) -> int:
        bench_agent = registration(project.id, name, uuid.uuid4().hex)
        registered, _ = await storage.agents.register_agent(bench_agent, now)
        return registered.id

    recipient = Recipient(await agent("R0"), "R0", RecipientKind.TO)
    drafts = []
    for index in range(senders):
        name = f"S{index}"
        drafts.append(
            Draft(
                project_id=project.id,
                sender_id=await agent(name),
                sender_name=name,
                recipients=(recipient,),
                subject="bench send",
                body=BODY,
                importance=Importance.NORMAL,
                ack_required=False,
                thread_id="",
                topic="",
                idempotency_key="",
                rules=SendRules(),
            )
        )
    return drafts, recipient


async def _measure(url: str, max_batch: int, concurrency: int, sends: int) -> dict[str, float]:
    storage = PostgresStorage(url, queue_size=4096, max_batch=max_batch, read_pool_size=2)
    await storage.start()
    try:
        drafts, _ = await _team(storage, concurrency)
        mail = storage.mail

        async def sender(draft: Draft, count: int) -> None:
            for _ in range(count):
                await mail.insert_message(draft, now_micros())

        async def load(total: int) -> None:
            share, extra = divmod(total, concurrency)
            await asyncio.gather(*(sender(d, share + (i < extra)) for i, d in enumerate(drafts)))

        await load(max(concurrency * 4, sends // 10))  # warm-up: connections, prepared plans
        before = storage.writer_stats()
        cpu, pg_cpu, wall = (
            time.process_time(),
            pg_scratch.postgres_cpu_seconds(),
            time.perf_counter(),
        )
        await load(sends)
        wall = time.perf_counter() - wall
        cpu, pg_cpu = time.process_time() - cpu, pg_scratch.postgres_cpu_seconds() - pg_cpu
        after = storage.writer_stats()
    finally:
        await storage.close()
    batches = max(after.batches - before.batches, 1)
    return {
        "sends_per_s": round(sends / wall),
        "process_cpu_us_per_send": round(cpu / sends * 1e6, 1),
        "postgres_cpu_us_per_send": round(pg_cpu / sends * 1e6, 1),
        "sends_per_commit": round((after.operations - before.operations) / batches, 2),
    }


async def main() -> None:
    parser = pg_scratch.parser(__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16,64")
    args = parser.parse_args()
    levels = [int(part) for part in args.concurrency.split(",") if part]
    results: dict[str, Any] = {"sends": args.sends}
    for level in levels:
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
        for name in ORDER:
            with pg_scratch.scratch_database(args.url) as url:
                runs[name].append(await _measure(url, SETTINGS[name], level, args.sends))
        for name, measured in runs.items():
            results[f"c{level}-{name}"] = max(measured, key=lambda m: m["sends_per_s"])
            results[f"c{level}-{name}-runs"] = [m["sends_per_s"] for m in measured]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
