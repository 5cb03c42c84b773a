"""The typed client honours the server's RetryInfo: a rate-limited call is sent again after the
delay the server named, and succeeds; a delay longer than the client's bound is raised at once.

The waits here are the client's own, short (50 ms tokens) and bounded by the retry policy.
"""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import agentmail_client as am
import pytest
from agentmail_server.domain.clock import ManualClock
from client._support import CountingInterceptor

TOKEN_SECONDS = 0.05  # 20 per second
PATIENT = am.RetryPolicy(max_attempts=6, initial_backoff=0.001, max_backoff=1.0)


async def test_a_burst_beyond_the_bucket_succeeds_after_the_servers_delays(
    tmp_path: pathlib.Path, start_server: Any
) -> None:
    counter = CountingInterceptor()
    async with (
        start_server(
            tmp_path / "data",
            rate_limit_read_per_second=1 / TOKEN_SECONDS,
            rate_limit_read_burst=2,
            rate_limit_write_per_second=1 / TOKEN_SECONDS,
            rate_limit_write_burst=2,
        ) as server,
        am.AgentmailClient(server.address, retry=PATIENT, interceptors=[counter]) as client,
    ):
        project = (await client.ensure_project("/srv/retry")).project
        alice = client.with_token(None)
        await alice.register_agent(project.slug, "Alice")
        await alice.list_inbox()  # the token's first call (not charged)
        loop = asyncio.get_running_loop()
        started = loop.time()
        calls = 8
        for _ in range(calls):
            await alice.list_inbox()
        elapsed = loop.time() - started
        # Two from the burst, then one per token: the server refused the others until then.
        assert elapsed >= (calls - 2) * TOKEN_SECONDS * 0.9
        assert counter.count("ListInbox") > calls + 1, "refused attempts were retried"
        # A plain send (no idempotency key) is retried too: the server refused it unrun.
        before = counter.count("SendMessage")
        for index in range(5):
            await alice.send_message("Alice", subject=f"note {index}")
        assert counter.count("SendMessage") > before + 5
        assert len(await alice.list_inbox()) == 5


async def test_a_delay_beyond_the_clients_bound_is_raised_with_its_details(
    tmp_path: pathlib.Path, start_server: Any
) -> None:
    counter = CountingInterceptor()
    async with (
        start_server(
            tmp_path / "data",
            clock=ManualClock(),
            rate_limit_read_per_second=0.01,
            rate_limit_read_burst=1,
        ) as server,
        am.AgentmailClient(server.address, retry=PATIENT, interceptors=[counter]) as client,
    ):
        project = (await client.ensure_project("/srv/retry")).project
        alice = client.with_token(None)
        await alice.register_agent(project.slug, "Alice")
        await alice.list_inbox()
        await alice.list_inbox()
        with pytest.raises(am.ResourceExhausted) as refused:
            await alice.list_inbox()
        error = refused.value
        assert error.reason == "RATE_LIMITED"
        assert error.retry_after == pytest.approx(100, abs=0.1)
        assert error.metadata["tier"] == "read"
        assert [v.subject.rsplit("/", 1)[-1] for v in error.quota_violations] == ["Alice"]
        assert counter.count("ListInbox") == 3, "not retried before the server's delay"


async def test_the_flood_guard_names_the_recipient_and_the_wait(
    tmp_path: pathlib.Path, start_server: Any
) -> None:
    clock = ManualClock()
    async with (
        start_server(tmp_path / "data", clock=clock, flood_guard_per_minute=2) as server,
        am.AgentmailClient(server.address, retry=PATIENT) as client,
    ):
        project = (await client.ensure_project("/srv/flood")).project
        alice, bob = client.with_token(None), client.with_token(None)
        await alice.register_agent(project.slug, "Alice")
        await bob.register_agent(project.slug, "Bob")
        await alice.send_message("Bob", subject="one")
        await alice.send_message("Bob", subject="two")
        with pytest.raises(am.ResourceExhausted) as refused:
            await alice.send_message("Bob", subject="three", idempotency_key="k3")
        error = refused.value
        assert error.reason == "FLOOD_GUARD"
        assert error.metadata["recipient"] == "Bob"
        assert error.retry_after == pytest.approx(30, abs=0.1)
        assert [v.subject for v in error.quota_violations] == ["recipient:Bob"]
        clock.advance(seconds=30)
        await alice.send_message("Bob", subject="three", idempotency_key="k3")
        assert [m.message.subject for m in await bob.list_inbox()] == ["one", "two", "three"]
