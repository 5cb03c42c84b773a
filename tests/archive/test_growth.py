"""The archive repository grows in proportion to the messages in it, not to their square.

Every commit stores a new version of each folder on its messages' paths, and a month's
folder lists every message of the month; stored whole, those versions grew the repository
with the square of the messages (this test measured 3.5x the size for twice the messages
before pack merges stored older versions as deltas). Written through the archive's own store
and batch writer, as the projector writes, into a real repository that git then checks.
"""

from __future__ import annotations

import pathlib
import subprocess

import pygit2
import pytest
from agentmail_server.archive._batches import write_batch
from agentmail_server.archive._commits import Position
from agentmail_server.archive._layout import MessageRecord, message_paths
from agentmail_server.archive._source import Batch
from agentmail_server.archive.git import GitStore
from agentmail_server.domain.models import Importance, Message

AGENTS = ("Alice", "Bob", "Carol", "Dave")
PER_COMMIT = 5
START = 1_795_000_000_000_000  # 2026-11-18, microseconds


def record(message_id: int) -> MessageRecord:
    sender = AGENTS[message_id % len(AGENTS)]
    recipient = AGENTS[(message_id * 7 + 1) % len(AGENTS)]
    if recipient == sender:
        recipient = AGENTS[(message_id + 1) % len(AGENTS)]
    message = Message(
        id=message_id,
        project_id=1,
        sender_id=1,
        sender_name=sender,
        thread_id=f"T{message_id // 10}",
        subject=f"Build {message_id % 31} finished",
        body=f"Message {message_id}: the build is green.\n",
        body_size=40,
        importance=Importance.NORMAL,
        ack_required=False,
        topic="",
        to=(recipient,),
        cc=(),
        bcc=(),
        created_at=START + message_id * 200_000,  # five a second: one month folder
    )
    return MessageRecord(message, "growth")


def archive(repository: pathlib.Path, count: int) -> list[MessageRecord]:
    store = GitStore(repository, "main", "agentmail", "agentmail@localhost")
    records = [record(i) for i in range(1, count + 1)]
    try:
        for start in range(0, count, PER_COMMIT):
            chunk = tuple(records[start : start + PER_COMMIT])
            last = chunk[-1].message.id
            batch = Batch(
                messages=chunk,
                agents=(),
                projects=(),
                position=Position(last, 0),
                full=False,
                head_message_id=count,
                next_created_at=None,
            )
            assert write_batch(store, batch) is not None
            store.consolidate()
    finally:
        store.close()
    return records


def pack_bytes(repository: pathlib.Path) -> int:
    return sum(path.stat().st_size for path in (repository / "objects" / "pack").iterdir())


@pytest.mark.slow
def test_twice_the_messages_take_about_twice_the_space(tmp_path: pathlib.Path) -> None:
    sizes = {}
    for count in (600, 1200):
        repository = tmp_path / f"archive-{count}.git"
        records = archive(repository, count)
        sizes[count] = pack_bytes(repository)
        subprocess.run(
            ["git", "fsck", "--full", "--strict"], cwd=repository, check=True, capture_output=True
        )
        head = pygit2.Repository(str(repository)).revparse_single("main").peel(pygit2.Commit)
        for each in records[:: len(records) // 50]:
            for path in message_paths(each):
                assert path in head.tree, path
        counts = subprocess.run(
            ["git", "count-objects", "-v"],
            cwd=repository,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert "garbage: 0" in counts
    # Linear growth with a per-pack overhead gives about 2; whole versions gave 3.5.
    assert sizes[1200] / sizes[600] < 2.6, sizes
    assert sizes[1200] < 1200 * 4096, sizes
