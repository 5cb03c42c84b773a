"""Bcc recipients appear nowhere in the archive: not in any file, path or commit message.

A bcc recipient gets no inbox view either: the path ``agents/<name>/inbox/...`` would tell
every reader of the repository who was bcc'd.
"""

from __future__ import annotations

from typing import Any

import pygit2


async def test_bcc_recipient_appears_in_no_file_path_or_commit(
    team: Any, open_archive: Any
) -> None:
    await team.settle()  # Zed's own registration is archived (and named) before the sends
    before = team.server.archive.stats().commits
    with_to = await team.send(
        "Alice", to=("Bob",), cc=("Carol",), bcc=("Zed",), subject="Quiet rollout plan"
    )
    bcc_only = await team.send("Alice", bcc=("Zed",), subject="Only you")
    await team.archived(bcc_only)

    archive = open_archive(team.server.config.archive_path)
    files = archive.files()
    ours = {
        message_id: path
        for message_id, path in archive.message_files(team.slug).items()
        if message_id in (with_to, bcc_only)
    }
    assert set(ours) == {with_to, bcc_only}
    names = {path.rsplit("/", 1)[1] for path in ours.values()}
    # No path of either message (file or view) is under Zed's folder.
    for path in files:
        if path.rsplit("/", 1)[1] in names:
            assert "/Zed/" not in path, path
    # No blob in the whole object database that holds either message mentions Zed.
    repo = archive.repo
    blobs = [repo[oid] for oid in repo.odb]
    for blob in blobs:
        if isinstance(blob, pygit2.Blob) and b"Quiet rollout plan" in blob.data:
            assert b"Zed" not in blob.data
        if isinstance(blob, pygit2.Blob) and b"Only you" in blob.data:
            assert b"Zed" not in blob.data
            assert b"to: []\ncc: []\n" in blob.data
    # The commits that archived them do not name Zed either.
    new_commits = archive.commits()[: team.server.archive.stats().commits - before]
    assert new_commits
    for commit in new_commits:
        assert "Zed" not in commit.message, commit.message
    assert any("Alice → undisclosed recipients: Only you" in c.message for c in new_commits)
