"""Archive fixtures: a server with a fast archive, a team of agents on it, a reader of the
archive repository (pygit2, read-only) and a bounded wait on the projector's stats.

Nothing here sleeps to let the archive catch up: tests wait on the projector's observable
state (``wait_until_archived`` or a polled ``stats()`` with a deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import pygit2
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
)

WAIT_SECONDS = 20.0
NAMES = ("Alice", "Bob", "Carol", "Zed")
# What a message file name looks like: <timestamp>__<subject-slug>__<id>.md
FILE_NAME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)__([a-z0-9-]+)__(\d+)\.md")


@dataclasses.dataclass(frozen=True)
class Member:
    """A registered agent: display name and call metadata."""

    name: str
    md: tuple[tuple[str, str], ...]


@dataclasses.dataclass
class Team:
    """A server with one project and agents registered on it, and helpers to use them."""

    server: Any
    slug: str
    members: dict[str, Member]
    agents: agent_service_pb2_grpc.AgentServiceStub
    mail: mail_service_pb2_grpc.MailServiceStub

    async def send(
        self,
        sender: str,
        *,
        to: tuple[str, ...] = (),
        cc: tuple[str, ...] = (),
        bcc: tuple[str, ...] = (),
        subject: str = "Status",
        body: str = "All good.",
        **fields: Any,
    ) -> int:
        """Send a message; returns its id once the server acknowledged it."""
        response = await self.mail.SendMessage(
            mail_service_pb2.SendMessageRequest(
                to=list(to), cc=list(cc), bcc=list(bcc), subject=subject, body=body, **fields
            ),
            metadata=self.members[sender].md,
        )
        return int(response.message.id)

    async def archived(self, message_id: int) -> None:
        """Wait until ``message_id`` is in the archive."""
        await self.server.archive.wait_until_archived(message_id, WAIT_SECONDS)

    async def settle(self) -> None:
        """Wait until every committed message and agent change is archived."""
        total = len(self.members)

        def done(stats: Any) -> bool:
            return stats.lag_messages == 0 and stats.archived_agent_revision >= total

        await wait_for_stats(self.server, done)


async def wait_for_stats(server: Any, predicate: Callable[[Any], bool]) -> Any:
    """Poll ``server.archive.stats()`` until ``predicate`` holds; fail after WAIT_SECONDS."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        stats = server.archive.stats()
        if predicate(stats):
            return stats
        assert asyncio.get_running_loop().time() < deadline, f"archive never got there: {stats}"
        await asyncio.sleep(0.01)


async def make_team(
    server: Any, channel: grpc.aio.Channel, names: tuple[str, ...], known: Team | None = None
) -> Team:
    """Ensure a project on ``server`` and register ``names`` in it (or reuse ``known``'s
    agents, registered before a restart)."""
    agents = agent_service_pb2_grpc.AgentServiceStub(channel)
    mail = mail_service_pb2_grpc.MailServiceStub(channel)
    if known is not None:
        return Team(server, known.slug, known.members, agents, mail)
    project = await agents.EnsureProject(
        agent_service_pb2.EnsureProjectRequest(human_key="/home/ops/repos/Shop Floor")
    )
    slug = project.project.slug
    members = {}
    for name in names:
        response = await agents.RegisterAgent(
            agent_service_pb2.RegisterAgentRequest(
                project=slug, name=name, program="pytest", model="m-1", task_description=name
            )
        )
        members[name] = Member(name, (("authorization", f"Bearer {response.agent_token}"),))
    return Team(server, slug, members, agents, mail)


@pytest.fixture
def archive_on(request: pytest.FixtureRequest) -> bool:
    """Every test here is about the archive: the servers they start keep it (the shared
    fixtures leave it off elsewhere), unless a test is marked ``archive(False)``."""
    marker = request.node.get_closest_marker("archive")
    return marker is None or bool(marker.args[0] if marker.args else True)


@pytest.fixture(name="team_on")
def team_on_fixture(
    start_server: Callable[..., Any], connect: Callable[[str], Any]
) -> Callable[..., contextlib.AbstractAsyncContextManager[Team]]:
    """``async with team_on(data_dir, known=None, **settings) as team``: a server of one's
    own, with Alice, Bob, Carol and Zed registered (or, after a restart, ``known``'s agents),
    archive commits at most every 50 ms by default."""

    @contextlib.asynccontextmanager
    async def run(
        data_dir: pathlib.Path, known: Team | None = None, **settings: Any
    ) -> AsyncIterator[Team]:
        settings.setdefault("archive_interval_seconds", 0.05)
        async with start_server(data_dir, **settings) as server, connect(server.address) as ch:
            yield await make_team(server, ch, NAMES, known)

    return run


@pytest.fixture
async def team(
    tmp_path: pathlib.Path,
    team_on: Callable[..., contextlib.AbstractAsyncContextManager[Team]],
) -> AsyncIterator[Team]:
    """A team on a fresh server with the archive on."""
    async with team_on(tmp_path / "data") as running:
        yield running


class ArchiveRepo:
    """Read-only view of an archive repository's branch, through pygit2."""

    def __init__(self, path: pathlib.Path, branch: str = "main") -> None:
        self.path = path
        self.repo = pygit2.Repository(str(path))
        self.branch = branch

    @property
    def head(self) -> pygit2.Commit:
        """The branch's newest commit."""
        commit = self.repo[self.repo.references[f"refs/heads/{self.branch}"].target]
        assert isinstance(commit, pygit2.Commit)
        return commit

    def commits(self) -> list[pygit2.Commit]:
        """Every commit of the branch, newest first."""
        return list(self.repo.walk(self.head.id))

    def entries(
        self, tree: pygit2.Tree | None = None, prefix: str = ""
    ) -> Iterator[tuple[str, pygit2.Oid]]:
        """``(path, blob id)`` of every file in the head's tree (or in ``tree``)."""
        for entry in tree if tree is not None else self.head.tree:
            if isinstance(entry, pygit2.Tree):
                yield from self.entries(entry, f"{prefix}{entry.name}/")
            else:
                yield f"{prefix}{entry.name}", entry.id

    def files(self) -> dict[str, pygit2.Oid]:
        """Every file of the head's tree and its blob id."""
        return dict(self.entries())

    def read(self, path: str) -> str:
        """The text of a file in the head's tree."""
        blob = self.head.tree[path]
        assert isinstance(blob, pygit2.Blob)
        return blob.data.decode()

    def message_files(self, slug: str) -> dict[int, str]:
        """Message id -> path under ``projects/<slug>/messages``; fails on a duplicate id."""
        found: dict[int, str] = {}
        prefix = f"projects/{slug}/messages/"
        for path, _ in self.entries():
            if path.startswith(prefix):
                match = FILE_NAME.fullmatch(path.rsplit("/", 1)[1])
                assert match, path
                message_id = int(match.group(3))
                assert message_id not in found, f"message {message_id} archived twice"
                found[message_id] = path
        return found


@pytest.fixture(name="open_archive")
def open_archive_fixture() -> Callable[..., ArchiveRepo]:
    """``open_archive(path, branch="main")``: a read-only view of an archive repository."""
    return ArchiveRepo


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """A message file's front matter (raw YAML values by key) and its body."""
    assert text.startswith("---\n"), text
    header, _, body = text[4:].partition("\n---\n\n")
    fields = {}
    for line in header.splitlines():
        key, _, value = line.partition(": ")
        fields[key] = value
    return fields, body


@pytest.fixture(name="front_matter")
def front_matter_fixture() -> Callable[[str], tuple[dict[str, str], str]]:
    """``front_matter(text)``: a message file's front matter and body."""
    return front_matter


@pytest.fixture(name="wait_for_stats")
def wait_for_stats_fixture() -> Callable[..., Any]:
    """``await wait_for_stats(server, predicate)``: poll the archive's stats with a deadline."""
    return wait_for_stats
