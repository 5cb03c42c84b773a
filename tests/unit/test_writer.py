"""The single writer against a real SQLite file: group commit, isolation of failures, bounds."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3

import pytest
from agentmail_server.domain.events import Commit, CommitBuilder
from agentmail_server.domain.models import Project
from agentmail_server.errors import NotFound, ResourceExhausted, Unavailable
from agentmail_server.storage.feed import CommitPublisher
from agentmail_server.storage.sqlite.writer import Writer


def _insert(value: str) -> object:
    def operation(conn: sqlite3.Connection) -> int:
        cursor = conn.execute(
            "INSERT INTO projects (slug, human_key, created_at) VALUES (?, ?, 0)", (value, value)
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    return operation


def _count(path: pathlib.Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM projects").fetchone()[0])


async def test_concurrent_writes_commit_in_groups(tmp_path: pathlib.Path) -> None:
    writer = Writer(tmp_path / "db", "full", queue_size=1000, max_batch=512, feed=CommitPublisher())
    await writer.start()
    try:
        ids = await asyncio.gather(*(writer.submit(_insert(f"p{i}")) for i in range(300)))
    finally:
        await writer.close()
    assert sorted(ids) == list(range(1, 301))
    stats = writer.stats()
    assert stats.operations == 300
    assert stats.batches < 300  # queued writes shared transactions
    assert _count(tmp_path / "db") == 300


async def test_failing_operation_rolls_back_alone(tmp_path: pathlib.Path) -> None:
    writer = Writer(
        tmp_path / "db", "normal", queue_size=100, max_batch=100, feed=CommitPublisher()
    )
    await writer.start()

    def insert_then_fail(conn: sqlite3.Connection) -> None:
        _insert("doomed")(conn)
        raise NotFound("THING_NOT_FOUND", "no such thing")

    try:
        results = await asyncio.gather(
            writer.submit(_insert("a")),
            writer.submit(insert_then_fail),
            writer.submit(_insert("a")),  # violates UNIQUE: a bug-shaped failure
            writer.submit(_insert("b")),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    assert isinstance(results[0], int)
    assert isinstance(results[1], NotFound)
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert isinstance(results[3], int)
    with sqlite3.connect(tmp_path / "db") as conn:
        keys = [row[0] for row in conn.execute("SELECT human_key FROM projects ORDER BY id")]
    assert keys == ["a", "b"]


async def test_full_queue_fails_fast(tmp_path: pathlib.Path) -> None:
    writer = Writer(tmp_path / "db", "normal", queue_size=2, max_batch=1, feed=CommitPublisher())
    await writer.start()
    gate = asyncio.Event()
    taken = asyncio.Event()
    loop = asyncio.get_running_loop()

    def blocked(conn: sqlite3.Connection) -> None:
        # Holds the writer thread until the test has filled the queue behind it.
        loop.call_soon_threadsafe(taken.set)
        asyncio.run_coroutine_threadsafe(gate.wait(), loop).result(timeout=10)

    try:
        first = asyncio.create_task(writer.submit(blocked))
        await asyncio.wait_for(taken.wait(), 10)
        queued = [asyncio.create_task(writer.submit(_insert(f"q{i}"))) for i in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(ResourceExhausted) as caught:
            await writer.submit(_insert("overflow"))
        assert caught.value.reason == "WRITER_OVERLOADED"
        assert caught.value.retry_after_seconds is not None
        gate.set()
        await first
        await asyncio.gather(*queued)
    finally:
        gate.set()
        await writer.close()
    assert writer.stats().rejected_full == 1
    assert _count(tmp_path / "db") == 2


async def test_close_commits_queued_writes_then_refuses(tmp_path: pathlib.Path) -> None:
    writer = Writer(tmp_path / "db", "full", queue_size=100, max_batch=4, feed=CommitPublisher())
    await writer.start()
    pending = [asyncio.create_task(writer.submit(_insert(f"c{i}"))) for i in range(20)]
    await asyncio.sleep(0)
    await writer.close()
    assert all(task.done() and not task.exception() for task in pending)
    assert _count(tmp_path / "db") == 20
    with pytest.raises(Unavailable):
        await writer.submit(_insert("late"))


async def test_feed_publishes_one_commit_with_only_the_committed_changes(
    tmp_path: pathlib.Path,
) -> None:
    feed = CommitPublisher()
    seen: list[Commit] = []
    feed.subscribe(seen.append)
    writer = Writer(tmp_path / "db", "normal", queue_size=100, max_batch=100, feed=feed)
    await writer.start()

    def fail(conn: sqlite3.Connection) -> None:
        raise NotFound("X", "x")

    def record(changes: CommitBuilder, value: object) -> None:
        changes.projects.append(Project(id=int(str(value)), slug="s", human_key="k", created_at=0))

    try:
        await asyncio.gather(
            writer.submit(_insert("ok"), record),
            writer.submit(fail, record),
            writer.submit(_insert("unrecorded")),
            return_exceptions=True,
        )
        # An operation nobody records changes nothing the feed reports: no empty commits.
        await writer.submit(_insert("alone"))
    finally:
        await writer.close()
    assert [[p.id for p in commit.projects] for commit in seen] == [[1]]
