"""``agentmail-archive verify`` and ``rebuild``: a missing message is reported with a non-zero
exit code, and a rebuild from the database restores exactly the tree the server wrote."""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import pygit2
from agentmail_server.archive.git import update_tree


def archive_cli(*args: str | pathlib.Path) -> subprocess.CompletedProcess[str]:
    """Run ``agentmail-archive ARGS`` with this interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "agentmail_server.archive.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("AGENTMAIL_")},
    )


def remove_file(repository: pathlib.Path, path: str) -> None:
    """Commit the removal of ``path`` on ``main`` (as a person tampering with a copy might)."""
    repo = pygit2.Repository(str(repository))
    head = repo[repo.references["refs/heads/main"].target]
    assert isinstance(head, pygit2.Commit)
    tree = update_tree(repo, head.tree.id, {path: None})
    signature = pygit2.Signature("someone", "someone@example.com")
    repo.create_commit("refs/heads/main", signature, signature, "oops", tree, [head.id])


async def test_verify_reports_a_message_missing_from_a_copy(
    tmp_path: pathlib.Path, team_on: Any, open_archive: Any
) -> None:
    data = tmp_path / "data"
    async with team_on(data) as team:
        ids = [await team.send("Alice", to=("Bob",), subject=f"Note {i}") for i in range(6)]
        await team.settle()
        slug = team.slug
    ok = archive_cli("verify", "--data-dir", data)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "checked 6 messages and 4 agent profiles" in ok.stdout

    copy = tmp_path / "copy.git"
    shutil.copytree(data / "archive.git", copy)
    victim = ids[3]
    remove_file(copy, open_archive(copy).message_files(slug)[victim])
    bad = archive_cli("verify", "--data-dir", data, "--archive-dir", copy)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"__{victim}.md" in bad.stdout
    assert "1 messages missing" in bad.stdout


async def test_rebuild_restores_the_tree_the_server_wrote(
    tmp_path: pathlib.Path, team_on: Any, open_archive: Any
) -> None:
    data = tmp_path / "data"
    async with team_on(data) as team:
        for i in range(20):
            await team.send("Carol", to=("Alice",), cc=("Bob",), bcc=("Zed",), subject=f"R {i}")
        await team.settle()
        slug = team.slug
        refused = await asyncio.to_thread(archive_cli, "rebuild", "--data-dir", data)
        assert refused.returncode == 2
        assert "stop it before rebuilding" in refused.stderr
    original = open_archive(data / "archive.git").head.tree.id
    (data / "archive.git" / "config").write_text(
        (data / "archive.git" / "config").read_text() + '[remote "backup"]\n\turl = /tmp/x\n'
    )
    first = min(open_archive(data / "archive.git").message_files(slug).items())
    remove_file(data / "archive.git", first[1])
    assert archive_cli("verify", "--data-dir", data).returncode == 1

    rebuilt = archive_cli("rebuild", "--data-dir", data)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "20 messages, 4 agent profiles" in rebuilt.stdout
    archive = open_archive(data / "archive.git")
    assert archive.head.tree.id == original
    assert "url = /tmp/x" in (data / "archive.git" / "config").read_text()
    assert not (data / "archive.git.rebuild").exists()
    assert archive_cli("verify", "--data-dir", data).returncode == 0
    fsck = await asyncio.to_thread(
        subprocess.run,
        ["git", "fsck", "--full", "--strict"],
        cwd=data / "archive.git",
        capture_output=True,
        text=True,
        check=False,
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert len(list((data / "archive.git" / "objects" / "pack").glob("*.pack"))) == 1


def test_commands_without_a_database_fail_cleanly(tmp_path: pathlib.Path) -> None:
    result = archive_cli("verify", "--data-dir", tmp_path)
    assert result.returncode == 2
    assert "no database" in result.stderr
