"""Retention on a PostgreSQL database several processes share: their purges never delete (or
count) a message twice, and ``agentmail-admin retention --database-url`` counts and purges it
beside running servers, stepping aside while a server purges. What retention removes and keeps
is tested on both backends in ``tests/ops/test_retention.py``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
from agentmail.v1 import mail_service_pb2 as pb
from agentmail_server.app import AgentmailServer
from agentmail_server.domain.retention import Purged
from agentmail_server.services.retention import RetentionService
from agentmail_server.storage.postgres.retention import RETENTION_LOCK
from ops.conftest import run_admin
from ops.test_retention import DAY, DAYS, OLD, Api, Clock, iso, retaining, send_old_then_young

PURGERS = 3
# LOCK_TIMEOUT (0.5 s) plus the batch's own statements, with room for a loaded machine
# (without the timeout the purge would wait for as long as the row stays locked).
LOCK_WAIT_BOUND = 5.0


@dataclasses.dataclass
class Mailed:
    """A retaining server holding OLD old messages then YOUNG young ones, and a cutoff."""

    server: AgentmailServer
    api: Api
    clock: Clock
    url: str
    old: list[pb.Message]
    young: list[pb.Message]

    @property
    def later(self) -> int:
        """DAYS days after the first young message: every message before it is old."""
        return self.young[0].create_time.ToMicroseconds() + DAYS * DAY

    def due(self) -> RetentionService:
        """The server's retention service, its clock set to :attr:`later`."""
        self.clock.micros = self.later
        assert self.server.retention is not None
        return self.server.retention

    def admin_args(self) -> tuple[str, ...]:
        """``agentmail-admin retention`` on the database, counting from :attr:`later`."""
        return (
            "retention",
            "--days",
            str(DAYS),
            "--now",
            iso(self.later),
            "--database-url",
            self.url,
        )


@contextlib.asynccontextmanager
async def old_and_young_mail(
    data_dir: pathlib.Path, connect: Callable[..., Any], settings: dict[str, Any]
) -> AsyncIterator[Mailed]:
    clock = Clock()
    async with (
        retaining(data_dir, clock, **settings) as server,
        connect(server.address) as channel,
    ):
        api = Api(channel)
        await api.team()
        old, young = await send_old_then_young(api)
        yield Mailed(server, api, clock, settings["database_url"], old, young)


@contextlib.asynccontextmanager
async def holding_the_purge_lock(url: str) -> AsyncIterator[None]:
    """The purge's advisory lock, held by a session of the test's own (as a purging server
    would hold it) until the block ends. Released explicitly: closing the connection releases
    it only once the server's backend has noticed, a moment later."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as holder:
        await holder.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK,))
        yield
        await holder.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK,))


async def test_servers_purging_one_database_at_once_remove_each_message_once(
    tmp_path, connect, backend_settings: dict[str, Any]
):
    clock = Clock()
    async with (
        retaining(tmp_path / "a", clock, batch=1, **backend_settings) as first,
        retaining(tmp_path / "b", clock, batch=1, **backend_settings) as second,
        connect(first.address) as channel,
    ):
        api = Api(channel)
        await api.team()
        old, young = await send_old_then_young(api)
        clock.micros = young[0].create_time.ToMicroseconds() + DAYS * DAY
        services = [first.retention, second.retention] * PURGERS
        runs = await asyncio.gather(*(s.purge_once() for s in services if s is not None))

        total = sum(runs, Purged())
        # A run that finds another batch under way ends; the one holding the lock goes on.
        assert (total.messages, total.deliveries, total.idempotency_keys) == (OLD, OLD, OLD)
        assert await api.inbox_ids() == [m.id for m in young]
        assert old[-1].id < young[0].id


async def test_a_purge_stands_aside_while_another_process_holds_the_purge_lock(
    tmp_path, connect, backend_settings: dict[str, Any]
):
    async with old_and_young_mail(tmp_path / "data", connect, backend_settings) as mailed:
        retention = mailed.due()
        async with holding_the_purge_lock(mailed.url):
            assert await retention.purge_once() == Purged()
            assert len(await mailed.api.inbox_ids()) == OLD + len(mailed.young)
        # Released: the next run purges.
        assert (await retention.purge_once()).messages == OLD


async def test_a_purge_gives_up_soon_behind_a_locked_delivery_and_keeps_everything(
    tmp_path, connect, backend_settings: dict[str, Any]
):
    async with old_and_young_mail(tmp_path / "data", connect, backend_settings) as mailed:
        retention = mailed.due()
        async with await psycopg.AsyncConnection.connect(mailed.url) as holder:
            # As a writer's transaction acknowledging the newest old message would hold it.
            await holder.execute(
                "SELECT 1 FROM deliveries WHERE message_id = %s FOR UPDATE", (mailed.old[-1].id,)
            )
            purging = retention.purge_once()
            assert await asyncio.wait_for(purging, LOCK_WAIT_BOUND) == Purged()  # rolled back
            assert len(await mailed.api.inbox_ids()) == OLD + len(mailed.young)
            await holder.rollback()
        assert (await retention.purge_once()).messages == OLD


async def test_admin_counts_and_purges_a_shared_database_beside_a_running_server(
    tmp_path, connect, backend_settings: dict[str, Any]
):
    async with old_and_young_mail(tmp_path / "data", connect, backend_settings) as mailed:
        args = mailed.admin_args()
        dry = await run_admin(*args, "--dry-run")
        purged = await run_admin(*args)
        after = await run_admin(*args, "--dry-run")
        assert await mailed.api.inbox_ids() == [m.id for m in mailed.young]

    old = mailed.old
    expected = (
        f"{OLD} messages (ids {old[0].id}-{old[-1].id}, created before"
        f" {iso(mailed.young[0].create_time.ToMicroseconds())}), {OLD} deliveries, {OLD}"
        " idempotency keys, 0 coordination events and their search index entries"
    )
    assert (dry.code, dry.out.strip()) == (0, f"would purge {expected}"), dry.err
    assert (purged.code, purged.out.strip()) == (0, f"purged {expected}"), purged.err
    assert after.out.startswith("would purge no message created before"), after.err


async def test_admin_steps_aside_while_a_server_holds_the_purge_lock(
    tmp_path, connect, backend_settings: dict[str, Any]
):
    async with old_and_young_mail(tmp_path / "data", connect, backend_settings) as mailed:
        async with holding_the_purge_lock(mailed.url):
            refused = await run_admin(*mailed.admin_args())
            dry = await run_admin(*mailed.admin_args(), "--dry-run")  # reads: no lock needed
        assert len(await mailed.api.inbox_ids()) == OLD + len(mailed.young)

    assert refused.code == 2
    assert "another agentmail server is purging" in refused.err
    assert "purged no message created before" in refused.err
    assert dry.code == 0 and dry.out.startswith(f"would purge {OLD} messages"), dry.err


async def test_admin_errors_never_show_the_database_password():
    url = "postgresql://postgres:secret-4471@127.0.0.1:5432/agentmail_no_such_database"
    ran = await run_admin("retention", "--days", "1", "--dry-run", "--database-url", url)
    assert ran.code == 2
    assert "127.0.0.1:5432/agentmail_no_such_database" in ran.err
    assert "secret-4471" not in ran.err + ran.out
