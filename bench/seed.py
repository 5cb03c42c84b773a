"""Seeding a data folder directly through the server's storage layer, before the server starts.

Projects, agents (with tokens the bench knows) and inbox messages are written with the same
functions the writer thread runs (``storage.sqlite.writes``), on a connection opened the way the
server opens its own, in large transactions; reservations are inserted as rows (their conflict
check is what scenario 7 measures, not what seeding should pay for). That is much faster than
going through gRPC and stays right when the schema changes (triggers such as the search index
fire as usual).
"""

from __future__ import annotations

import dataclasses
import pathlib
import random
import sqlite3
import time
from collections.abc import Callable, Sequence

from agentmail_server.config import ServerConfig
from agentmail_server.domain import reservation_patterns
from agentmail_server.domain.drafts import Draft, Registration
from agentmail_server.domain.models import Importance, Recipient, RecipientKind, now_micros
from agentmail_server.domain.reservations import stored_group
from agentmail_server.services.auth import hash_token, new_token
from agentmail_server.storage.sqlite import schema, writes
from agentmail_server.storage.sqlite.connection import open_writer
from agentmail_server.storage.sqlite.reservation_rows import NEXT_REVISION

BODY_BYTES = 512
_WORDS = [
    "agent",
    "build",
    "deploy",
    "schema",
    "migration",
    "orders",
    "payments",
    "review",
    "test",
    "failing",
    "flaky",
    "merge",
    "branch",
    "release",
    "hotfix",
    "latency",
    "cache",
    "index",
    "query",
    "writer",
    "reader",
    "subscription",
    "inbox",
    "thread",
    "topic",
    "archive",
    "search",
    "token",
    "deadline",
    "retry",
    "backoff",
    "commit",
    "rollback",
    "lock",
    "queue",
    "batch",
    "fsync",
    "replica",
    "shard",
    "config",
    "feature",
    "flag",
    "rollout",
    "canary",
    "metrics",
    "alert",
    "dashboard",
    "incident",
    "owner",
    "refactor",
    "module",
    "interface",
    "contract",
    "proto",
    "client",
    "server",
    "stream",
    "heartbeat",
    "cursor",
    "page",
]


def body_text(seed: int, size: int = BODY_BYTES) -> str:
    """A ``size``-byte body of words, different for each seed (deterministic)."""
    rng = random.Random(seed)
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS) + (str(rng.randrange(1000)) if rng.random() < 0.1 else "")
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size].ljust(size, ".")


@dataclasses.dataclass(frozen=True)
class SeededAgent:
    """An agent written by the seeder: its id, display name and secret token."""

    agent_id: int
    name: str
    token: str


@dataclasses.dataclass(frozen=True)
class SeededProject:
    """A project written by the seeder and its agents, in creation order."""

    project_id: int
    slug: str
    agents: tuple[SeededAgent, ...]

    def agent(self, name: str) -> SeededAgent:
        """The agent called ``name``."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)


def registration(project_id: int, name: str, token_hash: str) -> Registration:
    """A bench agent's registration (program and model "bench") with ``token_hash``."""
    return Registration(
        project_id=project_id,
        name=name,
        program="bench",
        model="bench",
        task_description="",
        new_token_hash=token_hash,
        presented_token_hash=None,
    )


class Seeder:
    """A connection to a data folder's database for seeding; the server must not be running."""

    def __init__(self, data_dir: pathlib.Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = ServerConfig(data_dir=data_dir).database_path
        self.conn: sqlite3.Connection = open_writer(path, "normal")
        schema.migrate(self.conn)

    def close(self) -> None:
        """Checkpoint the WAL into the database and close."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    def __enter__(self) -> Seeder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def project(self, human_key: str, names: Sequence[str]) -> SeededProject:
        """Create a project and register ``names`` in it, each with a fresh token."""
        conn = self.conn
        now = now_micros()
        conn.execute("BEGIN IMMEDIATE")
        try:
            project, _ = writes.ensure_project(conn, human_key, now)
            agents = []
            for name in names:
                token = new_token()
                agent, _ = writes.register_agent(
                    conn, registration(project.id, name, hash_token(token)), now
                )
                agents.append(SeededAgent(agent.id, agent.name, token))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return SeededProject(project.id, project.slug, tuple(agents))

    def inbox(
        self,
        project: SeededProject,
        sender: SeededAgent,
        recipient: SeededAgent,
        count: int,
        batch: int = 20_000,
        distinct_bodies: int = 512,
        body_of: Callable[[int], str] | None = None,
    ) -> tuple[float, int, int]:
        """Store ``count`` messages from ``sender`` to ``recipient``.

        Returns:
            Messages stored per second, and the first and last new message ids.

        Bodies are 512 bytes of words (cycled from ``distinct_bodies`` variants); every tenth
        message is HIGH importance and every seventh has a topic, so filtered pages have
        something to find. ``body_of(i)``, when given, is the body of message ``i`` instead.
        """
        bodies = [body_text(seed) for seed in range(distinct_bodies)]
        to = (Recipient(recipient.agent_id, recipient.name, RecipientKind.TO),)
        conn = self.conn
        started = time.perf_counter()
        now = now_micros() - count  # one microsecond apart, ending about now
        done = 0
        ids: list[int] = []
        while done < count:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for i in range(done, min(done + batch, count)):
                    draft = Draft(
                        project_id=project.project_id,
                        sender_id=sender.agent_id,
                        sender_name=sender.name,
                        recipients=to,
                        subject=f"seeded message {i}",
                        body=body_of(i) if body_of else bodies[i % distinct_bodies],
                        importance=Importance.HIGH if i % 10 == 0 else Importance.NORMAL,
                        ack_required=False,
                        thread_id="",
                        topic="builds" if i % 7 == 0 else "",
                        idempotency_key="",
                    )
                    sent = writes.insert_message(conn, draft, now + i)
                    if i in (0, count - 1):
                        ids.append(sent.message.id)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            done = min(done + batch, count)
        return count / (time.perf_counter() - started), ids[0], ids[-1]

    def reservations(
        self,
        project: SeededProject,
        held: Sequence[tuple[SeededAgent, str]],
        ttl_seconds: int = 30 * 24 * 3600,
    ) -> None:
        """Store an active exclusive reservation of each ``(agent, pattern)``, in one
        transaction, without the conflict check ReservePaths makes (the seeded set may
        overlap itself; that only gives the measured calls more to find)."""
        now = now_micros()
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO reservations (project_id, agent_id, pattern, pattern_group, exclusive,"
                " reason, created_at, updated_at, expires_at, revision)"
                f" VALUES (?, ?, ?, ?, 1, 'bench', ?, ?, ?, {NEXT_REVISION})",
                [
                    (
                        project.project_id,
                        agent.agent_id,
                        reservation_patterns.normalize(pattern),
                        stored_group(reservation_patterns.normalize(pattern)),
                        now,
                        now,
                        now + ttl_seconds * 1_000_000,
                    )
                    for agent, pattern in held
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
