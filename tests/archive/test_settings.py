"""Turning the archive off, choosing where it goes, and refusing an archive that cannot be
this database's."""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

import pygit2
import pytest
from agentmail_server.config import ServerConfig, load_config


async def test_archive_off_writes_no_repository(tmp_path: pathlib.Path, team_on: Any) -> None:
    data = tmp_path / "data"
    async with team_on(data, archive=False) as team:
        await team.send("Alice", to=("Bob",))
        assert team.server.archive is None
    assert (data / "agentmail.sqlite3").exists()
    assert not (data / "archive.git").exists()


async def test_location_branch_and_identity_are_configurable(
    tmp_path: pathlib.Path, team_on: Any, open_archive: Any
) -> None:
    elsewhere = tmp_path / "audit" / "mail.git"
    async with team_on(
        tmp_path / "data",
        archive_dir=elsewhere,
        archive_branch="audit/agents",
        archive_author_name="Audit Bot",
        archive_author_email="audit@example.com",
    ) as team:
        message_id = await team.send("Alice", to=("Bob",))
        await team.archived(message_id)
    archive = open_archive(elsewhere, "audit/agents")
    assert (archive.head.author.name, archive.head.author.email) == (
        "Audit Bot",
        "audit@example.com",
    )
    assert archive.repo.is_bare
    assert archive.repo.head.name == "refs/heads/audit/agents"
    assert not (tmp_path / "data" / "archive.git").exists()


def test_settings_come_from_flags_and_environment(tmp_path: pathlib.Path) -> None:
    config = load_config(
        ["--data-dir", str(tmp_path), "--archive", "off", "--archive-max-batch", "7"],
        {"AGENTMAIL_ARCHIVE_INTERVAL_SECONDS": "0.25", "AGENTMAIL_ARCHIVE_DIR": "/srv/a.git"},
    )
    assert (config.archive, config.archive_max_batch) == (False, 7)
    assert config.archive_interval_seconds == 0.25
    assert config.archive_path == pathlib.Path("/srv/a.git")
    default = load_config(["--data-dir", str(tmp_path)], {})
    assert default.archive is True
    assert default.archive_path == tmp_path / "archive.git"
    with pytest.raises(ValueError, match="archive_max_batch"):
        ServerConfig(archive_max_batch=0)


async def test_a_folder_that_is_not_a_repository_stops_the_start(
    tmp_path: pathlib.Path, start_server: Any
) -> None:
    data = tmp_path / "data"
    (data / "archive.git").mkdir(parents=True)
    (data / "archive.git" / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="could not open the archive"):
        async with start_server(data):
            pass


async def test_an_archive_ahead_of_the_database_stops_the_start(
    tmp_path: pathlib.Path, team_on: Any, start_server: Any
) -> None:
    async with team_on(tmp_path / "one") as team:
        await team.archived(await team.send("Alice", to=("Bob",)))
    async with start_server(tmp_path / "two") as server:
        pass  # a different, empty database
    shutil.rmtree(tmp_path / "two" / "archive.git")
    shutil.copytree(tmp_path / "one" / "archive.git", tmp_path / "two" / "archive.git")
    with pytest.raises(RuntimeError, match="ahead of the database"):
        async with start_server(tmp_path / "two"):
            pass
    assert server.archive is not None


async def test_a_branch_not_written_by_agentmail_stops_the_start(
    tmp_path: pathlib.Path, start_server: Any
) -> None:
    data = tmp_path / "data"
    repo = pygit2.init_repository(str(data / "archive.git"), bare=True, initial_head="main")
    tree = repo.TreeBuilder().write()
    someone = pygit2.Signature("Someone", "someone@example.com")
    repo.create_commit("refs/heads/main", someone, someone, "My notes\n", tree, [])
    with pytest.raises(RuntimeError, match="not written by agentmail"):
        async with start_server(data):
            pass
