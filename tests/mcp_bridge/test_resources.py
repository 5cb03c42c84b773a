"""The bridge's resources and wait_for_mail's progress notifications."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from .conftest import Team, call

Bridge = Callable[..., Any]


def _json(result: types.ReadResourceResult) -> Any:
    (content,) = result.contents
    assert isinstance(content, types.TextResourceContents)
    return json.loads(content.text)


async def test_inbox_and_message_resources(bridge: Bridge, mcp_team: Team) -> None:
    async with bridge() as session:
        await call(session, "register_agent")
        sent = await mcp_team.bob.send_message("Alice", subject="Res", body="the body")
        templates = (await session.list_resource_templates()).resource_templates
        assert {t.uri_template for t in templates} == {
            "agentmail://message/{message_id}",
            "agentmail://thread/{thread_id}",
        }
        inbox = _json(await session.read_resource("agentmail://inbox"))
        assert [m["id"] for m in inbox["messages"]] == [sent.message.id]
        assert inbox["messages"][0]["read"] is False
        message = _json(await session.read_resource(f"agentmail://message/{sent.message.id}"))
        assert message["body_md"] == "the body" and message["sender"] == "Bob"
        with pytest.raises(MCPError) as missing:
            await session.read_resource("agentmail://message/999999")
        assert "NOT_FOUND" in str(missing.value) or "not found" in str(missing.value).lower()


async def test_thread_and_reservations_resources(bridge: Bridge, mcp_team: Team) -> None:
    await mcp_team.bob.reserve_paths("src/api/**", reason="refactor")
    async with bridge() as session:
        await call(session, "register_agent")
        sent = await call(session, "send_message", to=["Bob"], subject="Plan", body_md="one")
        thread_id = sent["message"]["thread_id"]
        await mcp_team.bob.reply_message(sent["message"]["id"], body="two")
        thread = _json(await session.read_resource(f"agentmail://thread/{thread_id}"))
        assert thread["thread_id"] == thread_id and thread["truncated"] is False
        assert [m["body_md"] for m in thread["messages"]] == ["one", "two"]
        held = _json(await session.read_resource("agentmail://reservations"))
        ((lease,),) = [held["reservations"]]
        assert (lease["agent"], lease["pattern"], lease["reason"]) == (
            "Bob",
            "src/api/**",
            "refactor",
        )
        with pytest.raises(MCPError) as missing:
            await session.read_resource("agentmail://thread/no-such-thread")
        assert "Traceback" not in str(missing.value)
        with pytest.raises(MCPError) as bad:
            await session.read_resource("agentmail://message/0")
        assert "positive integers" in str(bad.value)


async def test_wait_for_mail_reports_progress_when_given_a_progress_token(
    bridge: Bridge,
) -> None:
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    async with bridge() as session:
        await call(session, "register_agent")
        result = await session.call_tool(
            "wait_for_mail", {"timeout_seconds": 2}, progress_callback=on_progress
        )
    assert not result.is_error
    assert reports, "no progress notification while waiting"
    assert all(total == 2 for _, total, _ in reports)
    assert all(0 < progress <= 2 for progress, _, _ in reports)
