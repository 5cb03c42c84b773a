"""The ordered feed of the PostgreSQL backend, driven deterministically: two storages (each
with its own writer, LISTEN connection and feed, as two processes have) on one database.

A local commit that leaves a gap (another storage committed the positions before it) must
wait until the gap is read from the tables, and then go out itself — not rebuilt from rows —
so every position is published once, in order, and only the other storage's commits are
marked ``remote``. Each wait is for the feed, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from agentmail_server.domain.drafts import Draft, Registration
from agentmail_server.domain.events import Commit
from agentmail_server.domain.models import Importance, Recipient, RecipientKind
from agentmail_server.storage.postgres.backend import PostgresStorage
from agentmail_server.storage.postgres.push import OrderedFeed
from agentmail_server.storage.postgres.readers import ReadPool

WITHIN = 20.0


@contextlib.asynccontextmanager
async def storage(url: str) -> AsyncIterator[PostgresStorage]:
    opened = PostgresStorage(url, queue_size=64, max_batch=16, read_pool_size=2)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()


class Collected:
    """Every commit a feed published, and a way to wait for a message id."""

    def __init__(self) -> None:
        self.commits: list[Commit] = []
        self._changed = asyncio.Event()

    def __call__(self, commit: Commit) -> None:
        self.commits.append(commit)
        self._changed.set()

    def positions(self) -> list[tuple[int, bool]]:
        """(position, remote) of every message and notice published, in publishing order."""
        out: list[tuple[int, bool]] = []
        for commit in self.commits:
            items = [s.message.id for s in commit.messages] + [n.position for n in commit.notices]
            out += [(position, commit.remote) for position in sorted(items)]
        return out

    async def until(self, position: int) -> None:
        async with asyncio.timeout(WITHIN):
            while position not in {p for p, _ in self.positions()}:
                self._changed.clear()
                await self._changed.wait()


def draft(project_id: int, sender: Any, rcpt: Any, subject: str) -> Draft:
    return Draft(
        project_id=project_id,
        sender_id=sender.id,
        sender_name=sender.name,
        recipients=(Recipient(rcpt.id, rcpt.name, RecipientKind.TO),),
        subject=subject,
        body="x",
        importance=Importance.NORMAL,
        ack_required=False,
        thread_id="",
        topic="",
        idempotency_key="",
    )


async def test_a_local_commit_behind_a_gap_waits_for_it_and_goes_out_whole(
    backend_settings: dict[str, Any],
) -> None:
    url = backend_settings["database_url"]
    async with storage(url) as a, storage(url) as b:
        seen = Collected()
        a.feed.subscribe(seen)
        project, _ = await a.agents.ensure_project("/work/order", 1)
        agents = [
            (
                await a.agents.register_agent(
                    Registration(project.id, name, "p", "m", "", f"hash-{name}", None), 1
                )
            )[0]
            for name in ("Sender", "Rcpt")
        ]
        sender, rcpt = agents
        remote = [
            (await b.mail.insert_message(draft(project.id, sender, rcpt, f"b{n}"), 2)).message.id
            for n in range(3)
        ]
        # B's positions are committed; A's next commit lands above them, maybe before A heard.
        local = (await a.mail.insert_message(draft(project.id, sender, rcpt, "a"), 3)).message.id
        await seen.until(local)
        later = (await b.mail.insert_message(draft(project.id, sender, rcpt, "b3"), 4)).message.id
        await seen.until(later)
    published = seen.positions()
    assert published == [(p, True) for p in remote] + [(local, False), (later, True)]


async def test_the_gap_before_a_local_commit_is_read_from_the_tables_first(
    backend_settings: dict[str, Any],
) -> None:
    """No LISTEN here: the feed learns of the other writer's positions only from the gap a
    local commit leaves (the path a commit takes when it beats the notification)."""
    url = backend_settings["database_url"]
    async with storage(url) as b:
        pool = ReadPool(url, 1)
        await pool.start()
        seen = Collected()
        ordered = OrderedFeed(pool, seen)
        try:
            project, _ = await b.agents.ensure_project("/work/gap", 1)
            sender, rcpt = [
                (
                    await b.agents.register_agent(
                        Registration(project.id, name, "p", "m", "", f"hash-{name}", None), 1
                    )
                )[0]
                for name in ("Sender", "Rcpt")
            ]
            await ordered.start()
            gap = [
                (await b.mail.insert_message(draft(project.id, sender, rcpt, f"g{n}"), 2))
                for n in range(3)
            ]
            mine = await b.mail.insert_message(draft(project.id, sender, rcpt, "mine"), 3)
            ordered.publish_local(Commit(messages=(mine,)))
            assert seen.positions() == [], "held back until the gap is read"
            await seen.until(mine.message.id)
        finally:
            await ordered.close()
            await pool.close()
    assert seen.positions() == [(s.message.id, True) for s in gap] + [(mine.message.id, False)]
    assert seen.commits[-1].messages == (mine,), "the local commit goes out as it was"
