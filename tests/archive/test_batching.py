"""Many messages share a commit, a lone message lands within about the interval, and writing
the same records twice yields the same tree."""

from __future__ import annotations

import asyncio
import pathlib
import time
from typing import Any

import pytest
from agentmail_server.archive._batches import write_batch
from agentmail_server.archive._commits import Position
from agentmail_server.archive._gitstore import GitStore
from agentmail_server.archive._source import ArchiveSource

BURST = 300


async def test_a_burst_shares_few_commits_and_every_message_is_archived_once(
    tmp_path: pathlib.Path, team_on: Any, open_archive: Any
) -> None:
    async with team_on(tmp_path / "data", archive_interval_seconds=0.5) as team:
        await team.settle()
        before = team.server.archive.stats().commits
        ids = await asyncio.gather(
            *(
                team.send("Alice", to=("Bob",), cc=("Carol",), subject=f"Item {i}")
                for i in range(BURST)
            )
        )
        await team.archived(max(ids))
        stats = team.server.archive.stats()
        archive = open_archive(team.server.config.archive_path)
    commits = stats.commits - before
    assert 1 <= commits <= 10, stats
    assert stats.archived_messages == BURST
    assert stats.last_batch_messages > 1
    assert set(archive.message_files(team.slug)) == set(ids)
    # Each message also sits in three views: outbox, Bob's and Carol's inboxes, its thread.
    assert len(archive.files()) == 5 * BURST + len(team.members) + 1


@pytest.mark.slow
async def test_a_lone_message_lands_within_about_the_interval(
    tmp_path: pathlib.Path, team_on: Any
) -> None:
    async with team_on(tmp_path / "data", archive_interval_seconds=1.0) as team:
        await team.settle()
        for _ in range(2):  # the second one follows a recent commit: paced by the interval
            sent = time.monotonic()
            message_id = await team.send("Alice", to=("Bob",))
            await team.archived(message_id)
            assert time.monotonic() - sent < 2.5


async def test_writing_the_same_records_twice_yields_the_same_tree(
    tmp_path: pathlib.Path, team_on: Any, open_archive: Any
) -> None:
    async with team_on(tmp_path / "data") as team:
        last = 0
        for i in range(5):
            last = await team.send("Bob", to=("Alice", "Zed"), subject=f"Twice {i}")
        await team.settle()
        await team.archived(last)
        config = team.server.config
    store = GitStore(tmp_path / "twice.git", "main", "agentmail", "agentmail@localhost")
    source = ArchiveSource(config.database_path)
    try:
        batch = source.read(Position(), 100, 1 << 20)
        first = write_batch(store, batch)
        assert first is not None
        assert write_batch(store, batch) is None  # the tree did not change: no commit
        assert store.head == first
    finally:
        source.close()
        store.close()
    # The server archived the same records in several commits: the trees are identical.
    served = open_archive(config.archive_path).head.tree.id
    assert open_archive(tmp_path / "twice.git").head.tree.id == served
