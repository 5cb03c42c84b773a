"""Git's own tools accept the archive: ``git fsck`` after many commits and pack merges, a
delta-compressed pack left by ``git gc`` is kept as it is, and ``git log`` reads the history."""

from __future__ import annotations

import asyncio
import pathlib
import subprocess
from typing import Any

from agentmail_server.archive.git._packs import MAX_PACKS


def git(repository: pathlib.Path, *args: str) -> str:
    """Run the git command-line tool in ``repository``; fail on a non-zero exit."""
    result = subprocess.run(
        ["git", *args], cwd=repository, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


async def commit_each(team: Any, count: int, start: int = 0) -> list[int]:
    """Send ``count`` messages, each archived before the next (one commit each)."""
    ids = []
    for i in range(start, start + count):
        ids.append(await team.send("Alice", to=("Bob",), subject=f"Commit {i}", body=f"n={i}"))
        await team.archived(ids[-1])
    return ids


async def test_git_accepts_the_archive_across_pack_merges_and_gc(
    tmp_path: pathlib.Path, team_on: Any, open_archive: Any
) -> None:
    data = tmp_path / "data"
    repository = data / "archive.git"
    async with team_on(data, archive_interval_seconds=0) as team:
        first = await commit_each(team, 3)
        slug, known = team.slug, team
    # A person compresses the archive while the server is down: one pack, with deltas.
    git(repository, "gc", "--aggressive", "--quiet")
    (gc_pack,) = (repository / "objects" / "pack").glob("*.idx")
    assert "delta" in git(repository, "verify-pack", "-v", str(gc_pack))

    async with team_on(data, known, archive_interval_seconds=0) as team:
        later = await commit_each(team, 3 * MAX_PACKS, start=3)
        stats = team.server.archive.stats()
    assert stats.pack_files <= MAX_PACKS + 1, stats
    # The pack with deltas was left alone (it cannot be merged entry by entry), and the
    # others were still merged around it, storing older versions of folders as deltas.
    assert gc_pack.exists()
    ours = [idx for idx in (repository / "objects" / "pack").glob("*.idx") if idx != gc_pack]
    assert any("chain length = 1" in git(repository, "verify-pack", "-v", str(idx)) for idx in ours)
    git(repository, "fsck", "--full", "--strict")
    log = git(repository, "log", "--format=%s", "main")
    assert f"Alice → Bob: Commit {3 * MAX_PACKS + 2}" in log.splitlines()[0]
    assert set(open_archive(repository).message_files(slug)) == {*first, *later}
    text = git(repository, "show", f"main:projects/{slug}/agents/Bob/profile.json")
    assert '"name": "Bob"' in text


async def test_git_gc_while_the_server_archives_loses_nothing(
    tmp_path: pathlib.Path, team_on: Any, open_archive: Any, wait_for_stats: Any
) -> None:
    data = tmp_path / "data"
    async with team_on(data, archive_interval_seconds=0) as team:
        ids = await commit_each(team, 12)

        async def keep_sending() -> None:
            for i in range(40):
                ids.append(await team.send("Bob", to=("Alice",), subject=f"During gc {i}"))

        for _ in range(2):
            gc = await asyncio.create_subprocess_exec(
                "git", "gc", "--quiet", cwd=data / "archive.git"
            )
            await keep_sending()
            assert await gc.wait() == 0
        await wait_for_stats(team.server, lambda s: s.archived_message_id >= max(ids))
        slug = team.slug
    assert set(open_archive(data / "archive.git").message_files(slug)) == set(ids)
    git(data / "archive.git", "fsck", "--full", "--strict")
