"""Mail waiting on the interval shares a commit, a lone message is committed on its own, and
writing the same records twice yields the same tree."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

from agentmail_server.archive._batches import write_batch
from agentmail_server.archive._commits import Position
from agentmail_server.archive._source import ArchiveSource
from agentmail_server.archive.git import GitStore

BURST = 300
WAIT_SECONDS = 20.0


async def test_mail_waiting_on_the_interval_shares_one_commit(
    tmp_path: pathlib.Path, team_on: Any, open_archive: Any, wait_for_stats: Any
) -> None:
    data_dir = tmp_path / "data"

    async def burst(team: Any, label: str) -> list[int]:
        return await asyncio.gather(
            *(
                team.send("Alice", to=("Bob",), cc=("Carol",), subject=f"{label} {i}")
                for i in range(BURST)
            )
        )

    async with team_on(data_dir, archive=False) as team:
        backlog = await burst(team, "Backlog")
    # An interval no test outlasts. The worker starts with a step, which takes the backlog in
    # one commit; after that it commits nothing more until stopped, and then archives all
    # that waits in one more batch. Which messages share a commit is thus decided by the
    # interval, not by how fast this machine sends.
    async with team_on(data_dir, known=team, archive_interval_seconds=3600) as team:
        projector = team.server.archive
        first = await wait_for_stats(team.server, lambda stats: stats.archived_messages > 0)
        live = await burst(team, "Live")
        paced = projector.stats()
        # Every send above is committed: stopping the projector drains them (the server's own
        # stop would give the worker only the 1 s grace of the test servers).
        await projector.stop(WAIT_SECONDS)
        drained = projector.stats()
        archive = open_archive(team.server.config.archive_path)
    assert (first.commits, first.archived_messages) == (1, BURST), first
    assert paced.commits == 1, paced
    assert paced.archived_messages == BURST, "nothing committed before the interval"
    assert drained.commits == 2, drained
    assert drained.last_batch_messages == BURST, drained
    assert drained.archived_messages == 2 * BURST
    assert set(archive.message_files(team.slug)) == {*backlog, *live}
    # Each message also sits in three views: outbox, Bob's and Carol's inboxes, its thread.
    assert len(archive.files()) == 5 * 2 * BURST + len(team.members) + 1


async def test_a_lone_message_is_committed_on_its_own(tmp_path: pathlib.Path, team_on: Any) -> None:
    # The worker commits what is there once the interval allows, rather than waiting for a
    # batch to fill: each lone message gets a commit of its own, also right after another
    # commit. (How soon it lands is a speed claim: bench/ measures archive lag.)
    async with team_on(tmp_path / "data", archive_interval_seconds=0.2) as team:
        await team.settle()
        for n in range(2):
            before = team.server.archive.stats()
            message_id = await team.send("Alice", to=("Bob",), subject=f"Lone {n}")
            await team.archived(message_id)
            after = team.server.archive.stats()
            assert after.commits == before.commits + 1, (before, after)
            assert after.last_batch_messages == 1, after
            assert after.archived_messages == before.archived_messages + 1, after


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
