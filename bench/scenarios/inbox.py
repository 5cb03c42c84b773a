"""Scenario 2: one inbox page of 50 for an agent with a small and with a huge inbox.

For each size a fresh database is seeded through the storage layer (512-byte bodies of words,
the search index kept by its trigger as in production), then a server is started on it and
the page is read sequentially: the newest page, and pages oldest-first from random positions
(each call continues after a different random cursor), each with and without bodies. The
ceiling is the empty unary RPC on the same server, also sequential.
"""

from __future__ import annotations

import random

from agentmail.v1 import mail_service_pb2, types_pb2
from agentmail_server import cursor_key
from agentmail_server.domain import cursors

from bench.core import Measurement, Run, closed_loop, log
from bench.loadgen import LIST_INBOX
from bench.scenarios import ceiling
from bench.seed import Seeder
from bench.server import running_server

SCENARIO = "2"
TITLE = "inbox page of 50"
PAGE = 50
CURSORS = 2000


def _requests(
    codec: cursors.CursorCodec,
    reader_id: int,
    first_id: int,
    last_id: int,
    newest: bool,
    bodies: bool,
) -> list[bytes]:
    pb = mail_service_pb2
    view = types_pb2.MESSAGE_VIEW_FULL if bodies else types_pb2.MESSAGE_VIEW_ENVELOPE
    if newest:
        request = pb.ListInboxRequest(page_size=PAGE, order=pb.INBOX_ORDER_NEWEST_FIRST, view=view)
        return [request.SerializeToString()]
    rng = random.Random(2)
    top = max(first_id, last_id - PAGE)
    return [
        pb.ListInboxRequest(
            page_size=PAGE,
            # Sealed with the server's own key, for the reader, as the server would seal it.
            page_token=codec.encode(
                cursors.INBOX_ASC, (reader_id,), rng.randint(first_id - 1, top)
            ),
            view=view,
        ).SerializeToString()
        for _ in range(CURSORS)
    ]


def run_scenario(run: Run) -> None:
    """Seed each inbox size, start a server on it and measure the page variants."""
    for size in run.scale.inbox_sizes:
        data = run.data_dir(f"inbox-{size}")
        log(f"scenario 2: seeding {size:,} messages")
        with Seeder(data) as seeder:
            project = seeder.project("/bench/inbox", ["Sender", "Reader"])
            reader = project.agent("Reader")
            rate, first_id, last_id = seeder.inbox(project, project.agent("Sender"), reader, size)
        log(f"scenario 2: seeded {size:,} messages at {rate:,.0f}/s")
        # The archive stays off: it would spend the phase catching up on the seeded messages,
        # and a caught-up archive does no work while an inbox is read.
        with running_server(data, cpus=run.server_cpus, archive=False) as server:
            # The server has made its cursor key by now: random cursors must be sealed with it.
            codec = cursors.CursorCodec(cursor_key.load_or_create(data, data / "agentmail.sqlite3"))
            run.settled(f"inbox-{size}", server)
            prefix = f"s2.{size}"
            ceiling.unary(run, server, f"{prefix}.ceiling", 1, SCENARIO, f" ({size:,} messages)")
            for newest in (True, False):
                for bodies in (False, True):
                    where = "newest page" if newest else "page at a random position"
                    what = "with bodies" if bodies else "without bodies"
                    variant = ("newest" if newest else "random") + (
                        ".bodies" if bodies else ".nobodies"
                    )
                    key = f"{prefix}.{variant}"
                    measurement: Measurement = closed_loop(
                        run,
                        server,
                        key=key,
                        scenario=SCENARIO,
                        name=f"{where} of 50, {what}, {size:,} messages",
                        method=LIST_INBOX,
                        requests=_requests(
                            codec, reader.agent_id, first_id, last_id, newest, bodies
                        ),
                        tokens=(reader.token,),
                        concurrency=1,
                        count=run.scale.inbox_pages,
                        ceiling=f"{prefix}.ceiling.unary.c1",
                        inbox_messages=size,
                    )
                    measurement.value["seed_messages_per_second"] = round(rate)
