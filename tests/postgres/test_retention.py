"""Retention on a PostgreSQL database several processes share: their purges never delete (or
count) a message twice, and ``agentmail-admin retention --database-url`` counts and purges it
beside running servers, stepping aside while a server purges. What retention removes and keeps
is tested on both backends in ``tests/ops/test_retention.py``."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from agentmail_server.domain.retention import Purged
from agentmail_server.storage.postgres.retention import RETENTION_LOCK
from ops.conftest import run_admin
from ops.test_retention import DAY, DAYS, OLD, Api, Clock, iso, retaining, send_old_then_young

PURGERS = 3


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
    clock = Clock()
    async with (
        retaining(tmp_path / "data", clock, **backend_settings) as server,
        connect(server.address) as channel,
    ):
        api = Api(channel)
        await api.team()
        _, young = await send_old_then_young(api)
        clock.micros = young[0].create_time.ToMicroseconds() + DAYS * DAY
        assert server.retention is not None
        url = backend_settings["database_url"]
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as holder:
            await holder.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK,))
            assert await server.retention.purge_once() == Purged()
            assert len(await api.inbox_ids()) == OLD + len(young)
        # Released with the holder's connection: the next run purges.
        assert (await server.retention.purge_once()).messages == OLD


async def test_admin_counts_and_purges_a_shared_database_beside_a_running_server(
    tmp_path, connect, backend_settings: dict[str, Any]
):
    url = backend_settings["database_url"]
    async with (
        retaining(tmp_path / "data", Clock(), **backend_settings) as server,
        connect(server.address) as channel,
    ):
        api = Api(channel)
        await api.team()
        old, young = await send_old_then_young(api)
        now = iso(young[0].create_time.ToMicroseconds() + DAYS * DAY)
        args = ("retention", "--days", str(DAYS), "--now", now, "--database-url", url)
        dry = await run_admin(*args, "--dry-run")
        purged = await run_admin(*args)
        after = await run_admin(*args, "--dry-run")
        assert await api.inbox_ids() == [m.id for m in young]

    expected = (
        f"{OLD} messages (ids {old[0].id}-{old[-1].id}, created before"
        f" {iso(young[0].create_time.ToMicroseconds())}), {OLD} deliveries, {OLD} idempotency"
        " keys, 0 coordination events and their search index entries"
    )
    assert (dry.code, dry.out.strip()) == (0, f"would purge {expected}"), dry.err
    assert (purged.code, purged.out.strip()) == (0, f"purged {expected}"), purged.err
    assert after.out.startswith("would purge no message created before"), after.err


async def test_admin_steps_aside_while_a_server_holds_the_purge_lock(
    tmp_path, connect, backend_settings: dict[str, Any]
):
    url = backend_settings["database_url"]
    async with (
        retaining(tmp_path / "data", Clock(), **backend_settings) as server,
        connect(server.address) as channel,
    ):
        api = Api(channel)
        await api.team()
        _, young = await send_old_then_young(api)
        now = iso(young[0].create_time.ToMicroseconds() + DAYS * DAY)
        args = ("retention", "--days", str(DAYS), "--now", now, "--database-url", url)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as holder:
            await holder.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK,))
            refused = await run_admin(*args)
            dry = await run_admin(*args, "--dry-run")  # reads only: no lock needed
        assert len(await api.inbox_ids()) == OLD + len(young)

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
