"""Rebuilding the archive from the database, and verifying it against the database.

Both are offline tools (see :mod:`agentmail_server.archive.cli`): ``rebuild`` must not run
beside a server on the same data folder (on PostgreSQL it takes the archive lock, and refuses
while a server's worker holds it), ``verify`` may, though messages the server has not
archived yet then count as missing.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import time
from collections.abc import Callable

import pygit2

from agentmail_server.archive._batches import write_batch
from agentmail_server.archive._commits import Position, parse_position
from agentmail_server.archive._database import ArchiveDatabase
from agentmail_server.archive._layout import (
    message_paths,
    profile_path,
    render_message,
    render_profile,
)
from agentmail_server.archive._source import MAX_BATCH_BODY_BYTES
from agentmail_server.archive.git import GitStore

# Messages per commit when rebuilding: fewer, bigger commits than the live projector's.
REBUILD_BATCH = 5000


@dataclasses.dataclass(frozen=True)
class RebuildReport:
    """What a rebuild wrote."""

    messages: int
    agents: int
    commits: int
    seconds: float
    position: Position


def rebuild(
    database: ArchiveDatabase,
    repository: pathlib.Path,
    branch: str = "main",
    author_name: str = "agentmail",
    author_email: str = "agentmail@localhost",
    *,
    on_progress: Callable[[Position], None] | None = None,
) -> RebuildReport:
    """Write a new archive of everything in the database and put it in place of the old one.

    The new repository is built beside the old one (``<name>.rebuild``) and swapped in by two
    renames only when complete, so a failed rebuild leaves the old archive as it was. The old
    repository's ``config`` (remotes, for instance) is carried over. The new history shares no
    commit with the old one: clones must fetch it afresh.
    """
    building = repository.with_name(repository.name + ".rebuild")
    shutil.rmtree(building, ignore_errors=True)
    started = time.perf_counter()
    store = GitStore(building, branch, author_name, author_email)
    source = database.open()
    if not source.try_lead():  # PostgreSQL: a server's worker writes this archive now
        source.close()
        raise RuntimeError("a server is writing the archive of this database: stop it first")
    messages = agents = commits = 0
    position = Position()
    try:
        while True:
            batch = source.read(position, REBUILD_BATCH, MAX_BATCH_BODY_BYTES)
            if not batch.messages and not batch.agents and not batch.reservations:
                break
            if write_batch(store, batch) is not None:
                commits += 1
            messages += len(batch.messages)
            agents += len(batch.agents)
            position = batch.position
            store.consolidate()
            if on_progress is not None:
                on_progress(position)
        store.consolidate(max_packs=1)
    finally:
        source.close()
        store.close()
    if (repository / "config").is_file():
        shutil.copyfile(repository / "config", building / "config")
    _swap(building, repository)
    return RebuildReport(messages, agents, commits, time.perf_counter() - started, position)


def _swap(new: pathlib.Path, target: pathlib.Path) -> None:
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    os.rename(new, target)
    fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    shutil.rmtree(old, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """How the archive compares with the database.

    Attributes:
        archived: the position recorded at the branch head (None: no archive commit yet).
        database: the newest message id and agent revision in the database.
        messages: messages checked.
        agents: agent profiles checked.
        missing: ids of messages absent from the archive (their file or one of its views).
        different: ids of messages archived with other content than the database has.
        agent_problems: ``project/name`` of agents whose profile is absent or different.
        details: one line per problem, naming the path.
    """

    archived: Position | None
    database: Position
    messages: int
    agents: int
    missing: tuple[int, ...]
    different: tuple[int, ...]
    agent_problems: tuple[str, ...]
    details: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether every message and profile is archived as the database has it."""
        return not (self.missing or self.different or self.agent_problems)


def _entry(tree: pygit2.Tree | None, path: str) -> pygit2.Oid | None:
    if tree is None:
        return None
    try:
        return tree[path].id
    except KeyError:
        return None


def _head(repository: pathlib.Path, branch: str) -> tuple[pygit2.Tree | None, Position | None]:
    if not repository.exists():
        return None, None
    repo = pygit2.Repository(str(repository))
    reference = repo.references.get(f"refs/heads/{branch}")
    if reference is None:
        return None, None
    commit = repo[reference.target]
    assert isinstance(commit, pygit2.Commit)
    return commit.tree, parse_position(commit.message)


def archived_position(repository: pathlib.Path, branch: str = "main") -> Position | None:
    """How far the archive in ``repository`` got: the position its branch head records (None
    when there is no repository, branch or archive commit yet)."""
    return _head(repository, branch)[1]


def verify(
    database: ArchiveDatabase, repository: pathlib.Path, branch: str = "main"
) -> VerifyReport:
    """Check that every message (with each of its views) and every agent profile in the
    database is in the archive's branch head with the content the database implies."""
    tree, archived = _head(repository, branch)
    source = database.open()
    missing: list[int] = []
    different: list[int] = []
    agent_problems: list[str] = []
    details: list[str] = []
    messages = agents = 0
    try:
        heads = source.heads()
        for record in source.all_messages():
            messages += 1
            expected = pygit2.hash(render_message(record))
            for path in message_paths(record):
                found = _entry(tree, path)
                if found == expected:
                    continue
                (missing if found is None else different).append(record.message.id)
                details.append(f"{'missing' if found is None else 'different'}: {path}")
                break
        for agent in source.all_agents():
            agents += 1
            path = profile_path(agent)
            found = _entry(tree, path)
            if found != pygit2.hash(render_profile(agent)):
                agent_problems.append(f"{agent.project_slug}/{agent.name}")
                details.append(f"{'missing' if found is None else 'different'}: {path}")
    finally:
        source.close()
    return VerifyReport(
        archived=archived,
        database=heads,
        messages=messages,
        agents=agents,
        missing=tuple(missing),
        different=tuple(different),
        agent_problems=tuple(agent_problems),
        details=tuple(details),
    )
