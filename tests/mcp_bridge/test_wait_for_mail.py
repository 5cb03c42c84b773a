"""``wait_for_mail`` over a real stdio bridge: wakes on mail, times out empty, resumes from
its saved cursor after a restart with no repeats or gaps, reports coordination events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from agentmail_client import AgentmailClient

from .conftest import Team, call, call_error

Bridge = Callable[..., Any]


async def _send(bob: AgentmailClient, subject: str, **kwargs: Any) -> int:
    return (await bob.send_message("Alice", subject=subject, body="b", **kwargs)).message.id


async def test_it_times_out_empty_then_wakes_soon_after_mail_from_another_client(
    bridge: Bridge, mcp_team: Team
) -> None:
    async with bridge() as session:
        await call(session, "register_agent")
        started = time.perf_counter()
        empty = await call(session, "wait_for_mail", timeout_seconds=1)
        assert empty["messages"] == [] and empty["events"] == [] and empty["timed_out"]
        assert time.perf_counter() - started >= 1.0
        # The saved cursor now covers everything: whether Bob's mail lands before or after
        # the stream opens, this call returns it, and never before it exists.
        waiting = asyncio.create_task(call(session, "wait_for_mail", timeout_seconds=20))
        sent_at = time.perf_counter()
        message_id = await _send(mcp_team.bob, "Wake up", importance=None, ack_required=True)
        result = await waiting
        latency = time.perf_counter() - sent_at
    print(f"send -> wait_for_mail returned: {latency * 1000:.0f} ms")
    assert latency < 2.0
    assert not result["timed_out"]
    (headline,) = result["messages"]
    assert headline["id"] == message_id
    assert headline["sender"] == "Bob" and headline["subject"] == "Wake up"
    assert headline["ack_required"] is True and "body_md" not in headline
    assert {"importance", "thread_id", "created"} <= set(headline)


async def test_after_a_restart_it_continues_from_its_cursor_without_repeats_or_gaps(
    bridge: Bridge, mcp_team: Team
) -> None:
    async with bridge() as session:
        await call(session, "register_agent")
        await call(session, "wait_for_mail", timeout_seconds=1)  # starts the cursor at now
        sent = [await _send(mcp_team.bob, f"m{n}") for n in range(3)]
        first = await call(session, "wait_for_mail", timeout_seconds=5, max_messages=2)
        assert [m["id"] for m in first["messages"]] == sent[:2]
    sent.append(await _send(mcp_team.bob, "m3"))  # while no bridge runs
    async with bridge() as session:
        second = await call(session, "wait_for_mail", timeout_seconds=5)
        assert [m["id"] for m in second["messages"]] == sent[2:]
        third = await call(session, "wait_for_mail", timeout_seconds=1)
        assert third["messages"] == [] and third["timed_out"]


async def test_coordination_events_wake_it_too(bridge: Bridge, mcp_team: Team) -> None:
    async with bridge() as session:
        await call(session, "register_agent")
        await call(session, "wait_for_mail", timeout_seconds=1)
        sent = await call(session, "send_message", to=["Bob"], subject="Ack me", ack_required=True)
        await mcp_team.bob.acknowledge_message(sent["message"]["id"])
        result = await call(session, "wait_for_mail", timeout_seconds=10)
    (event,) = result["events"]
    assert event["type"] == "acknowledgement"
    assert event["message_id"] == sent["message"]["id"]
    assert event["acknowledged_by"] == "Bob"


async def test_a_foreign_cursor_is_an_error_with_a_resync_hint_and_reset_recovers(
    bridge: Bridge, mcp_team: Team
) -> None:
    state = mcp_team.home / "state"
    async with bridge() as session:
        await call(session, "register_agent")
        await call(session, "wait_for_mail", timeout_seconds=1)
        (cursor_file,) = state.glob("*.cursor")
        cursor_file.write_text("not-a-cursor\n")
        text = await call_error(session, "wait_for_mail", timeout_seconds=1)
        assert "reset=true" in text and "Traceback" not in text, text
        message_id = await _send(mcp_team.bob, "after reset")
        # reset starts from now: the message sent before it is fetch_inbox's, not the wait's.
        reset = await call(session, "wait_for_mail", timeout_seconds=1, reset=True)
        assert reset["messages"] == []
        later = await _send(mcp_team.bob, "later")
        result = await call(session, "wait_for_mail", timeout_seconds=5)
        assert [m["id"] for m in result["messages"]] == [later]
        assert message_id != later
