"""The per-step CPU ladder of a durable unary send: where a send's CPU goes, step by step.

Why a ladder: a send costs the server a few hundred microseconds of CPU more than an empty
call, and throughput alone cannot say which step to cut. Here each rung adds one step to the
previous one and is measured on its own, in one process, with no network: the difference
between two rungs is that step's CPU per call. The rungs:

1. ``parse`` — decoding the serialized ``SendMessageRequest``;
2. ``auth`` — + the servicer's gate: authorization metadata, the token, presence;
3. ``service`` — + the whole ``SendMessage`` handler (validation, recipient resolution, the
   send's domain objects, the response and its serialization) over a storage that stores
   nothing (:class:`_NullMail` answers at once, as a writer with zero cost would);
4. ``writer`` — the same handler over the real SQLite storage (fsync on every commit, group
   commit at the concurrency given): the writer path's share is rung 4 minus rung 3;
5. ``archive`` — separately, the git archive's CPU per message when it commits batches of
   1, 100 and 1,000 messages (reading them from the database, rendering, packing, consolidating)
   as the archive worker process does.

What the ladder leaves out is gRPC itself (the empty-RPC ceiling: the transport, grpc.aio, the
interceptor and metrics): read it as ``ceiling.unary`` ``server_cpu_us_per_call`` in a run of
``python -m bench --quick --scenarios 1`` beside these figures. CPU is process CPU (every
thread: the SQLite writer's too) per call, from ``time.process_time``; each rung runs
``--calls`` calls after a warm-up, three times (the least is reported), at each concurrency
given (calls in flight on one event loop, so the writer batches as it does under load).

Usage: ``python -m bench.send_ladder [--calls 3000] [--concurrency 1,64] [--out FILE.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import pathlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence

import uvloop
from agentmail.v1 import mail_service_pb2
from agentmail_server import cursor_key
from agentmail_server.archive._batches import write_batch
from agentmail_server.archive._settings import ArchiveSettings
from agentmail_server.archive._source import MAX_BATCH_BODY_BYTES, ArchiveSource
from agentmail_server.archive._worker import open_store
from agentmail_server.config import ServerConfig
from agentmail_server.domain.clock import SystemClock
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.models import DeliveryState, Message, RecipientKind
from agentmail_server.hub import Hub
from agentmail_server.rpc.authorization import Gate
from agentmail_server.rpc.mail_servicer import MailServicer
from agentmail_server.services.container import build_services
from agentmail_server.services.mail import Mailer
from agentmail_server.storage.backends import open_storage

from bench.seed import Seeder

BODY = "x" * 512
_METHOD = "/agentmail.v1.MailService/SendMessage"
ARCHIVE_BATCHES = (1, 100, 1000)
# Each rung is measured this many times and the least CPU (and wall time) is reported: other
# processes on a shared machine only ever add to a measurement.
REPEATS = 3


class _Context:
    """The one thing the handler reads from a grpc.aio context: the call's metadata."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}


class _NullMail:
    """A mail storage that stores nothing: the ``service`` rung's writer of zero cost. It
    answers what the SQLite writer answers for a first send (the same ``Sent``)."""

    def __init__(self) -> None:
        self._next = 0

    async def insert_message(self, draft: Draft, now: int) -> Sent:
        self._next += 1
        names: dict[RecipientKind, list[str]] = {kind: [] for kind in RecipientKind}
        for recipient in draft.recipients:
            names[recipient.kind].append(recipient.name)
        message = Message(
            id=self._next,
            project_id=draft.project_id,
            sender_id=draft.sender_id,
            sender_name=draft.sender_name,
            thread_id=draft.thread_id or str(self._next),
            subject=draft.subject,
            body=draft.body,
            body_size=len(draft.body.encode()),
            importance=draft.importance,
            ack_required=draft.ack_required,
            topic=draft.topic,
            to=tuple(names[RecipientKind.TO]),
            cc=tuple(names[RecipientKind.CC]),
            bcc=tuple(names[RecipientKind.BCC]),
            created_at=now,
        )
        return Sent(message=message, recipients=draft.recipients, deduplicated=False)

    async def mark_deliveries(
        self, agent_id: int, message_ids: Sequence[int], now: int, *, acknowledge: bool
    ) -> list[DeliveryState]:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Rung:
    """One rung: its name, what it adds, and CPU per call at one concurrency."""

    name: str
    adds: str
    concurrency: int
    calls: int
    cpu_us_per_call: float
    wall_us_per_call: float


async def _measure(
    name: str,
    adds: str,
    call: Callable[[int], Awaitable[object]],
    calls: int,
    concurrency: int,
) -> Rung:
    """Run ``call(worker)`` ``calls`` times with ``concurrency`` in flight, after a warm-up."""

    async def worker(index: int, count: int) -> None:
        for _ in range(count):
            await call(index)

    async def batch(total: int) -> None:
        share, extra = divmod(total, concurrency)
        await asyncio.gather(
            *(worker(i, share + (1 if i < extra else 0)) for i in range(concurrency))
        )

    await batch(max(concurrency * 4, calls // 10))
    best_cpu = best_wall = math.inf
    for _ in range(REPEATS):
        cpu, wall = time.process_time(), time.perf_counter()
        await batch(calls)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return Rung(
        name,
        adds,
        concurrency,
        calls,
        round(best_cpu / calls * 1e6, 1),
        round(best_wall / calls * 1e6, 1),
    )


async def send_rungs(data_dir: pathlib.Path, calls: int, concurrency: int) -> list[Rung]:
    """Rungs 1-4 at ``concurrency`` on a fresh data folder (left behind for the archive)."""
    senders = [f"S{i}" for i in range(concurrency)]
    with Seeder(data_dir) as seeder:
        team = seeder.project("/bench/ladder", [*senders, "R0"])
    tokens = [team.agent(name).token for name in senders]
    config = ServerConfig(data_dir=data_dir, flood_guard_per_minute=0)
    key = cursor_key.load_or_create(data_dir, config.database_path)
    storage = await open_storage(config)
    hub = Hub(config.subscriber_buffer, config.max_subscriptions)
    storage.feed.subscribe(hub.publish)
    try:
        services = build_services(storage, hub, config, CursorCodec(key))
        gate = Gate(services.auth, services.enrollment)
        real = MailServicer(
            services.mailer,
            services.streamer,
            gate,
            services.auth,
            services.acks,
            bulk=services.bulk,
        )
        null_mailer = Mailer(
            _NullMail(),
            storage.reads,
            services.resolver,
            CursorCodec(key),
            SystemClock(),
        )
        null = MailServicer(
            null_mailer, services.streamer, gate, services.auth, services.acks, bulk=services.bulk
        )
        raw = mail_service_pb2.SendMessageRequest(
            to=["R0"], subject="bench send", body=BODY
        ).SerializeToString()
        contexts = [_Context(token) for token in tokens]
        parse = mail_service_pb2.SendMessageRequest.FromString

        async def parse_only(i: int) -> object:
            return parse(raw)

        async def auth(i: int) -> object:
            parse(raw)
            return await gate.agent(contexts[i], _METHOD)

        def handler(servicer: MailServicer) -> Callable[[int], Awaitable[object]]:
            async def call(i: int) -> object:
                response = await servicer.SendMessage(parse(raw), contexts[i])
                return response.SerializeToString()

            return call

        return [
            await _measure("parse", "request decoding", parse_only, calls, concurrency),
            await _measure("auth", "gate: metadata, token, presence", auth, calls, concurrency),
            await _measure(
                "service",
                "validation, recipients, objects, response",
                handler(null),
                calls,
                concurrency,
            ),
            await _measure(
                "writer",
                "SQLite writer: queue, insert, policy, commit+fsync",
                handler(real),
                calls,
                concurrency,
            ),
        ]
    finally:
        await services.presence.stop()
        hub.close()
        await storage.close()


def archive_rungs(data_dir: pathlib.Path, batches: Sequence[int], messages: int) -> list[Rung]:
    """CPU per message of archiving the data folder's messages in batches of each size (a
    fresh repository per size and run; at most ``messages`` messages each; the least of
    ``REPEATS`` runs, like the other rungs)."""
    database = ServerConfig(data_dir=data_dir).database_path
    rungs = []
    for size in batches:
        limit = min(messages, size * 50) if size < 100 else messages
        best_cpu = best_wall = math.inf
        archived = 0
        for run in range(REPEATS):
            cpu, wall, archived = _archive_run(
                data_dir / f"archive-{size}-{run}.git", database, size, limit
            )
            best_cpu, best_wall = min(best_cpu, cpu), min(best_wall, wall)
        rungs.append(
            Rung(
                f"archive/{size}",
                f"archive commits of {size} message(s)",
                size,
                archived,
                round(best_cpu / max(archived, 1) * 1e6, 1),
                round(best_wall / max(archived, 1) * 1e6, 1),
            )
        )
    return rungs


def _archive_run(
    repo: pathlib.Path, database: pathlib.Path, size: int, limit: int
) -> tuple[float, float, int]:
    """CPU and wall seconds of archiving up to ``limit`` messages into a new ``repo`` in
    batches of ``size``, and how many were archived."""
    store, position = open_store(ArchiveSettings(repository=repo, max_batch=size))
    source = ArchiveSource(database)
    archived = 0
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        while archived < limit:
            batch = source.read(position, size, MAX_BATCH_BODY_BYTES)
            if not batch.messages:
                break
            if write_batch(store, batch) is not None:
                store.consolidate()
            position = batch.position
            archived += len(batch.messages)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        source.close()
        store.close()
    return cpu, wall, archived


def _table(rungs: Sequence[Rung]) -> str:
    lines = [
        "| rung | adds | in flight | calls | CPU µs/call | step µs | wall µs/call |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    previous: dict[int, float] = {}
    for rung in rungs:
        if rung.name.startswith("archive"):
            step = rung.cpu_us_per_call
        else:
            step = rung.cpu_us_per_call - previous.get(rung.concurrency, 0.0)
            previous[rung.concurrency] = rung.cpu_us_per_call
        lines.append(
            f"| {rung.name} | {rung.adds} | {rung.concurrency} | {rung.calls} |"
            f" {rung.cpu_us_per_call:.1f} | {step:.1f} | {rung.wall_us_per_call:.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ladder and print its table (and write JSON with ``--out``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.send_ladder", description=__doc__)
    parser.add_argument("--calls", type=int, default=3000, help="calls per rung")
    parser.add_argument("--concurrency", default="1,64", help="calls in flight, comma-separated")
    parser.add_argument("--archive-messages", type=int, default=3000)
    parser.add_argument("--out", type=pathlib.Path, default=None, help="JSON results file")
    args = parser.parse_args(argv)
    levels = [int(part) for part in args.concurrency.split(",") if part]
    rungs: list[Rung] = []
    with tempfile.TemporaryDirectory(prefix="send-ladder-") as scratch:
        for level in levels:
            data_dir = pathlib.Path(scratch) / f"c{level}"
            coro = send_rungs(data_dir, args.calls, level)
            rungs += uvloop.run(coro)
        rungs += archive_rungs(
            pathlib.Path(scratch) / f"c{levels[-1]}", ARCHIVE_BATCHES, args.archive_messages
        )
    print(_table(rungs))
    if args.out is not None:
        args.out.write_text(json.dumps([dataclasses.asdict(r) for r in rungs], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
