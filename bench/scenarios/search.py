"""Scenario 3: full-text search (SearchMessages) on a seeded corpus of N messages.

For each size a fresh database is seeded through the storage layer (the FTS5 index kept by its
trigger as in production) with bodies of made-up words in which a few terms have known
frequencies: a selective term in exactly 10 messages, a common term in about 10 %, a phrase in
about 1 % and a prefix (``deplo*``) matching about 15 %. A server is started on it (archive
off, as in scenario 2: it would spend the phase catching up on the seeded messages) and each
query is called sequentially, as the one agent who received every message, for a page of 20
hits ranked by relevance (and the common term once newest first). The ceiling is the empty
unary RPC on the same server, also sequential.

The server's search rate limit is raised out of the way: one sequential caller runs more than
the default 500 searches a second per agent, and the limiter then refused up to 1,400 calls of
a phase, whose server CPU was counted against the calls answered (the 2026-11-30 full run read
6.47x the empty call for a common term at 1,000 messages; with the limit out of the way it is
the search's own cost). The check still runs on every call. The matching counts in each
figure are read from the server's full-text index once it has indexed the corpus.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3

from agentmail.v1 import search_service_pb2

from bench.core import Run, closed_loop, log
from bench.scenarios import ceiling
from bench.seed import Seeder
from bench.server import running_server

SCENARIO = "3"
TITLE = "search"
SEARCH = "/agentmail.v1.SearchService/SearchMessages"
PAGE = 20
SEARCH_RATE = "1000000"
SELECTIVE_HITS = 10
_RESERVED = {"zanzibar", "deploy", "deployed", "deployment", "auth", "migration"}

# (key, label, query, newest first)
QUERIES = (
    ("selective", f"selective term (in {SELECTIVE_HITS} messages)", "zanzibar", False),
    ("common", "common term (~10 %)", "deploy", False),
    ("common_newest", "common term (~10 %), newest first", "deploy", True),
    ("phrase", "phrase (~1 %)", '"auth migration"', False),
    ("prefix", "prefix deplo* (~15 %)", "deplo*", False),
)


class Corpus:
    """Bodies of made-up words (Zipf-like frequencies) with the query terms mixed in."""

    def __init__(self, count: int, distinct: int = 512, seed: int = 3) -> None:
        rng = random.Random(seed)
        letters = "abcdefghijklmnopqrstuvwxyz"
        vocabulary: set[str] = set()
        while len(vocabulary) < 5000:
            word = "".join(rng.choices(letters, k=rng.randint(3, 9)))
            if word not in _RESERVED and not word.startswith("deplo"):
                vocabulary.add(word)
        words = sorted(vocabulary)
        weights = [1 / (rank + 1) for rank in range(len(words))]
        self.bases = [" ".join(rng.choices(words, weights, k=60)) for _ in range(distinct)]
        step = max(1, count // SELECTIVE_HITS)
        self.selective = {k * step + step // 2 for k in range(SELECTIVE_HITS)}

    def body(self, i: int) -> str:
        """The body of message ``i`` (deterministic)."""
        parts = [self.bases[i % len(self.bases)]]
        h = (i * 2654435761) % 1000
        if h < 100:
            parts.append("deploy")
        elif h < 130:
            parts.append("deployment")
        elif h < 150:
            parts.append("deployed")
        g = (i * 40503 + 7) % 1000
        if g < 10:
            parts.insert(0, "auth migration")
        elif g < 50:
            parts.insert(0, "auth")
        elif g < 90:
            parts.append("migration")
        if i in self.selective:
            parts.insert(1, "zanzibar")
        return " ".join(parts)


def _matches(database: str, query: str) -> int | None:
    """How many messages the query matches in the FTS index (read-only, beside the server
    that filled it), or None if unknown."""
    try:
        from agentmail_server.domain.search_query import to_fts  # noqa: PLC0415

        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", (to_fts(query),)
            ).fetchone()
    except Exception:  # only a label for the report: never fail the scenario on it
        return None
    return int(row[0])


def _request(query: str, newest: bool) -> bytes:
    pb = search_service_pb2
    order = pb.SEARCH_ORDER_NEWEST if newest else pb.SEARCH_ORDER_RELEVANCE
    return pb.SearchMessagesRequest(query=query, page_size=PAGE, order=order).SerializeToString()


def run_scenario(run: Run) -> None:
    """Seed each corpus size, start a server on it and measure each query sequentially."""
    for size in run.scale.search_sizes:
        data = run.data_dir(f"search-{size}")
        log(f"scenario 3: seeding {size:,} messages")
        corpus = Corpus(size)
        with Seeder(data) as seeder:
            project = seeder.project("/bench/search", ["Sender", "Reader"])
            reader = project.agent("Reader")
            rate, _, _ = seeder.inbox(
                project, project.agent("Sender"), reader, size, body_of=corpus.body
            )
        log(f"scenario 3: seeded {size:,} messages at {rate:,.0f}/s")
        search_limit = ("--rate-limit-search-per-second", SEARCH_RATE)
        with running_server(
            data, cpus=run.server_cpus, archive=False, extra=search_limit
        ) as server:
            run.settled(f"search-{size}", server)
            database = str(data / "agentmail.sqlite3")
            matches = {key: _matches(database, query) for key, _, query, _ in QUERIES}
            log(f"scenario 3: the index matches {matches}")
            prefix = f"s3.{size}"
            ceiling.unary(run, server, f"{prefix}.ceiling", 1, SCENARIO, f" ({size:,} messages)")
            for key, label, query, newest in QUERIES:
                measurement = closed_loop(
                    run,
                    server,
                    key=f"{prefix}.{key}",
                    scenario=SCENARIO,
                    name=f"search {label}, page of {PAGE}, {size:,} messages",
                    method=SEARCH,
                    requests=(_request(query, newest),),
                    tokens=(reader.token,),
                    concurrency=1,
                    count=run.scale.search_calls,
                    ceiling=f"{prefix}.ceiling.unary.c1",
                    corpus_messages=size,
                    query=query,
                    matching_messages=matches[key],
                )
                measurement.value["seed_messages_per_second"] = round(rate)
