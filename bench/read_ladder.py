"""Per-step CPU ladders for an inbox page and a search, measured in one process.

Why: the bench's scenarios 2 and 3 give the server CPU per call of a whole RPC, which says how
far a read is from the empty call but not where the difference goes. This tool seeds a small
data folder (bodies of the search corpus, so one folder serves both ladders), opens the
storage and services exactly as the server does, and times each layer's entry point in turn
on the same request, from the bottom up:

* ``sql`` (inbox only): the page's own statement alone, on a connection of this thread;
* ``storage``: the storage port (for the inbox: that statement plus the hand-off to a reader
  thread and back, which is therefore the step);
* ``service``: the use case (cursor checks and sealing, bcc views, ranking cache, snippets);
* ``servicer``: the gRPC servicer (authentication from the metadata, protobuf building);
* ``serialize``: the response's ``SerializeToString`` on top (what grpc does after it).

Each rung is CPU time (``time.process_time``: the event loop and the SQLite threads) per call
over ``--calls`` calls after a warm-up, the least of :data:`REPEATS` rounds (each round runs
every rung of a ladder in turn); the step is the difference from the rung below.
What the empty RPC itself costs (gRPC, interceptors, metrics) is not in this process: scenario
2 and 3 measure it beside the real calls. Run: ``python -m bench.read_ladder [--messages N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import random
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from agentmail.v1 import mail_service_pb2, search_service_pb2, types_pb2
from agentmail_server import cursor_key
from agentmail_server.config import ServerConfig
from agentmail_server.domain import cursors, search_query
from agentmail_server.domain.clock import SystemClock
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.filters import InboxFilter, SearchFilter
from agentmail_server.hub import Hub
from agentmail_server.rpc.bindings import service_bindings
from agentmail_server.services.container import build_services
from agentmail_server.services.search import SearchRequest
from agentmail_server.storage.backends import open_storage
from agentmail_server.storage.sqlite.connection import READER_PRAGMAS, reader_uri
from agentmail_server.storage.sqlite.queries import _inbox_statement
from agentmail_server.storage.sqlite.rows import inbox_row_columns

from bench.scenarios.search import Corpus
from bench.seed import Seeder

PAGE = 50
HITS = 20
SEARCHES = (("common term, relevance", "deploy", False), ("common term, newest", "deploy", True))
SEARCHES += (("selective term", "zanzibar", False), ("phrase", '"auth migration"', False))
# Each rung is measured this many times and the least CPU is kept: other processes on a shared
# machine only ever add to a measurement (as in bench.send_ladder).
REPEATS = 3


class _Context:
    """The little of a ServicerContext the servicers read: the caller's metadata."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}


async def _cpu_per_call(calls: int, step: Callable[[], Awaitable[Any]]) -> float:
    return (await _cpu_per_call_of(calls, [("step", step)]))[0][1]


async def _cpu_per_call_of(
    calls: int, rungs: list[tuple[str, Callable[[], Awaitable[Any]]]]
) -> list[tuple[str, float]]:
    """Each rung's least CPU per call over :data:`REPEATS` rounds, every round running every
    rung in turn: a burst of load from other processes then costs one round of each rung, not
    all the rounds of one (measured back to back, a rung could come out above the one over it).
    """
    for _, step in rungs:
        for _ in range(max(10, calls // 10)):
            await step()
    least = [float("inf")] * len(rungs)
    for _ in range(REPEATS):
        for index, (_, step) in enumerate(rungs):
            start = time.process_time()
            for _ in range(calls):
                await step()
            least[index] = min(least[index], (time.process_time() - start) / calls * 1e6)
    return [(name, micros) for (name, _), micros in zip(rungs, least, strict=True)]


def _ladder(rungs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    out, below = [], 0.0
    for name, micros in rungs:
        out.append({"rung": name, "cpu_us": round(micros, 1), "step_us": round(micros - below, 1)})
        below = micros
    return out


async def _ladders(data: pathlib.Path, messages: int, calls: int) -> dict[str, Any]:
    corpus = Corpus(messages)
    with Seeder(data) as seeder:
        project = seeder.project("/bench/ladder", ["Sender", "Reader"])
        reader = project.agent("Reader")
        seeder.inbox(project, project.agent("Sender"), reader, messages, body_of=corpus.body)
    config = ServerConfig(data_dir=data)
    storage = await open_storage(config)
    try:
        codec = CursorCodec(cursor_key.load_or_create(data, config.database_path))
        services = build_services(
            storage,
            Hub(config.subscriber_buffer, config.max_subscriptions),
            config,
            codec,
            SystemClock(),
        )
        bindings = service_bindings(services)
        mail, search = bindings[1].servicer, bindings[2].servicer
        ctx = _Context(reader.token)
        caller = await services.auth.identify_caller(reader.token)
        assert not isinstance(caller, type(None))
        result: dict[str, Any] = {"messages": messages, "calls": calls}
        result["auth"] = round(
            await _cpu_per_call(calls, lambda: services.auth.identify_caller(reader.token)), 1
        )
        result["inbox"] = await _inbox_ladders(storage, services, mail, ctx, caller, codec, calls)
        result["search"] = await _search_ladders(storage, services, search, ctx, caller, calls)
        return result
    finally:
        await storage.close()


async def _inbox_ladders(
    storage: Any, services: Any, mail: Any, ctx: Any, caller: Any, codec: CursorCodec, calls: int
) -> dict[str, Any]:
    rng = random.Random(2)
    tail = await storage.reads.inbox_tail(caller.agent_id)
    positions = [rng.randint(0, max(0, tail - PAGE)) for _ in range(64)]
    out: dict[str, Any] = {}
    for bodies in (True, False):
        out["bodies" if bodies else "envelopes"] = await _inbox_ladder(
            storage, services, mail, ctx, caller, codec, calls, positions, bodies
        )
    return out


async def _inbox_ladder(
    storage: Any,
    services: Any,
    mail: Any,
    ctx: Any,
    caller: Any,
    codec: CursorCodec,
    calls: int,
    positions: list[int],
    bodies: bool,
) -> dict[str, Any]:
    # The bottom rung: the page's own statement (as the port builds it) on a connection of
    # this thread, so that the storage rung's step is the hand-off to a reader thread and back.
    direct = sqlite3.connect(reader_uri(storage.reads._pool._path), uri=True)
    for pragma in READER_PRAGMAS:
        direct.execute(pragma)
    statement, parameters = _inbox_statement(
        inbox_row_columns(bodies), caller.agent_id, InboxFilter(), 0, None, False
    )
    view = types_pb2.MESSAGE_VIEW_FULL if bodies else types_pb2.MESSAGE_VIEW_ENVELOPE
    it = iter(range(10**9))

    def position() -> int:
        return positions[next(it) % len(positions)]

    async def sql() -> None:
        # The same parameters as the port's: bcc view (id, name), agent, position, limit.
        direct.execute(
            statement, (caller.agent_id, caller.name, *parameters[:-1], position(), PAGE + 1)
        ).fetchall()

    async def port() -> None:  # the port method ListInbox reads its page with
        await storage.reads.inbox_rows(
            caller.agent_id,
            caller.name,
            InboxFilter(),
            after_id=position(),
            before_id=None,
            newest_first=False,
            limit=PAGE + 1,
            include_bodies=bodies,
        )

    async def service() -> None:
        await services.mailer.inbox(
            caller,
            InboxFilter(),
            newest_first=False,
            page_size=PAGE,
            page_token=codec.encode(cursors.INBOX_ASC, (caller.agent_id,), position()),
            include_bodies=bodies,
        )

    def request() -> mail_service_pb2.ListInboxRequest:
        token = codec.encode(cursors.INBOX_ASC, (caller.agent_id,), position())
        return mail_service_pb2.ListInboxRequest(page_size=PAGE, page_token=token, view=view)

    async def servicer() -> Any:
        return await mail.ListInbox(request(), ctx)

    async def serialize() -> None:
        (await servicer()).SerializeToString()

    async def token_only() -> None:  # what the ladder's own page token costs each rung
        request()

    rungs = await _cpu_per_call_of(
        calls,
        [
            ("sql", sql),
            ("storage", port),
            ("service", service),
            ("servicer", servicer),
            ("serialize", serialize),
        ],
    )
    direct.close()
    return {
        "ladder": _ladder(rungs),
        "page_token_us": round(await _cpu_per_call(calls, token_only), 1),
    }


async def _search_ladders(
    storage: Any, services: Any, search: Any, ctx: Any, caller: Any, calls: int
) -> dict[str, Any]:
    return {
        label: await _search_ladder(storage, services, search, ctx, caller, calls, query, newest)
        for label, query, newest in SEARCHES
    }


async def _search_ladder(
    storage: Any,
    services: Any,
    search: Any,
    ctx: Any,
    caller: Any,
    calls: int,
    query: str,
    newest: bool,
) -> list[dict[str, Any]]:
    match = search_query.to_fts(query)
    order = search_service_pb2.SEARCH_ORDER_NEWEST if newest else 0
    req = search_service_pb2.SearchMessagesRequest(query=query, page_size=HITS, order=order)

    async def port() -> None:
        if newest:
            await storage.search.newest(
                caller.agent_id,
                caller.name,
                caller.project_id,
                match,
                SearchFilter(),
                snapshot=None,
                before_id=None,
                limit=HITS + 1,
                include_bodies=False,
            )
            return
        await storage.search.ranked(
            caller.agent_id,
            caller.name,
            caller.project_id,
            match,
            SearchFilter(),
            candidates=ServerConfig().search_relevance_candidates,
            limit=10_000,
            page=HITS,
            include_bodies=False,
        )

    async def service() -> None:
        await services.searcher.search(
            caller, SearchRequest(query=query, page_size=HITS, newest_first=newest)
        )

    async def servicer() -> Any:
        return await search.SearchMessages(req, ctx)

    async def serialize() -> None:
        (await servicer()).SerializeToString()

    rungs = await _cpu_per_call_of(
        calls,
        [("storage", port), ("service", service), ("servicer", servicer), ("serialize", serialize)],
    )
    return _ladder(rungs)


def _print(result: dict[str, Any]) -> None:
    print(f"# read ladders: {result['messages']:,} messages, {result['calls']} calls per rung")
    print(f"auth (cached identity): {result['auth']} µs")
    for name, ladder in [
        *((f"inbox page of {PAGE}, {k}", v["ladder"]) for k, v in result["inbox"].items()),
        *((f"search top {HITS}, {k}", v) for k, v in result["search"].items()),
    ]:
        print(f"\n{name}\n| rung | CPU µs/call | step µs |\n| --- | ---: | ---: |")
        for rung in ladder:
            print(f"| {rung['rung']} | {rung['cpu_us']} | {rung['step_us']} |")


def main() -> None:
    """Parse arguments, seed a scratch folder, print the ladders (and write JSON with --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--out", type=pathlib.Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentmail-ladder-") as scratch:
        result = asyncio.run(_ladders(pathlib.Path(scratch), args.messages, args.calls))
    _print(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
