"""The writer's stats carry batch-size and commit-duration histograms that add up to its
counters; the collector renders them as cumulative Prometheus histograms."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3

from agentmail_server.metrics.families import writer_families
from agentmail_server.storage.feed import CommitPublisher
from agentmail_server.storage.sqlite.writer import Writer
from agentmail_server.storage.stats import BATCH_SIZE_BOUNDS, COMMIT_SECONDS_BOUNDS


def _insert(value: str):
    def operation(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO projects (slug, human_key, created_at) VALUES (?, ?, 0)", (value, value)
        )

    return operation


async def test_histograms_add_up_to_the_counters(tmp_path: pathlib.Path) -> None:
    writer = Writer(
        tmp_path / "db", "normal", queue_size=1000, max_batch=64, feed=CommitPublisher()
    )
    await writer.start()
    try:
        await writer.submit(_insert("alone"))  # an idle writer commits a lone write at once
        await asyncio.gather(*(writer.submit(_insert(f"p{i}")) for i in range(300)))
    finally:
        await writer.close()

    stats = writer.stats()

    assert len(stats.batch_size_counts) == len(BATCH_SIZE_BOUNDS) + 1
    assert len(stats.commit_seconds_counts) == len(COMMIT_SECONDS_BOUNDS) + 1
    assert sum(stats.batch_size_counts) == stats.batches
    assert sum(stats.commit_seconds_counts) == stats.batches
    assert stats.batch_size_counts[0] >= 1  # the lone write: a batch of 1
    assert sum(stats.batch_size_counts[7:]) == 0  # nothing above max_batch = 64 = 2**6
    assert 0 < stats.commit_seconds_sum < 60


async def test_rendered_as_cumulative_histograms(tmp_path: pathlib.Path) -> None:
    writer = Writer(tmp_path / "db", "normal", queue_size=100, max_batch=8, feed=CommitPublisher())
    await writer.start()
    try:
        await asyncio.gather(*(writer.submit(_insert(f"p{i}")) for i in range(40)))
    finally:
        await writer.close()

    families = {family.name: family for family in writer_families(writer.stats())}

    batch = families["agentmail_writer_batch_size"]
    buckets = [s for s in batch.samples if s.name.endswith("_bucket")]
    assert buckets[-1].labels["le"] == "+Inf"
    assert [s.value for s in buckets] == sorted(s.value for s in buckets)
    count = next(s.value for s in batch.samples if s.name.endswith("_count"))
    total = next(s.value for s in batch.samples if s.name.endswith("_sum"))
    assert count == buckets[-1].value == writer.stats().batches
    assert total == 40
