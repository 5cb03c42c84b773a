"""The bridge's tools over a real stdio subprocess: schemas, happy paths, errors."""

from __future__ import annotations

import pathlib
import stat
from collections.abc import Callable
from typing import Any

from .conftest import Team, call, call_error

EXPECTED_TOOLS = {
    "ensure_project", "register_agent", "whois", "list_agents", "send_message",
    "reply_message", "fetch_inbox", "get_message", "mark_message_read", "acknowledge_message",
    "search_messages", "summarize_thread", "get_thread", "file_reservation_paths",
    "release_file_reservations", "renew_file_reservations", "force_release_file_reservation",
    "check_file_reservation_conflicts", "request_contact", "respond_contact", "list_contacts",
    "set_contact_policy", "wait_for_mail",
}  # fmt: skip

Bridge = Callable[..., Any]


async def test_every_tool_has_a_description_and_typed_described_parameters(
    bridge: Bridge,
) -> None:
    async with bridge() as session:
        tools = (await session.list_tools()).tools
    assert {t.name for t in tools} == EXPECTED_TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 40, tool.name
        schema = tool.input_schema
        assert schema["type"] == "object", tool.name
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
            typed = "type" in prop or "anyOf" in prop or "enum" in prop
            assert typed, f"{tool.name}.{name} has no type: {prop}"
        assert "ctx" not in schema.get("properties", {}), tool.name


async def test_register_stores_the_token_privately_and_never_returns_it(
    bridge: Bridge, mcp_team: Team
) -> None:
    async with bridge() as session:
        result = await call(session, "register_agent", program="claude-code")
    assert result == {
        "name": "Alice", "project": mcp_team.project, "created": True, "token_stored": True
    }  # fmt: skip
    token_file = mcp_team.home / "Alice.token"
    token = token_file.read_text().strip()
    assert token and token not in str(result)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


async def test_mail_round_trip_through_the_tools(bridge: Bridge, mcp_team: Team) -> None:
    async with bridge() as session:
        await call(session, "register_agent")
        sent = await call(
            session, "send_message", to=["Bob"], subject="Plan", body_md="Step 1", importance="high"
        )
        assert sent["message"]["sender"] == "Alice"
        assert sent["message"]["importance"] == "high"
        reply = await mcp_team.bob.reply_message(sent["message"]["id"], body="OK, go")
        inbox = await call(session, "fetch_inbox")
        assert [m["id"] for m in inbox["messages"]] == [reply.message.id]
        assert inbox["messages"][0]["read"] is False
        # fetch_inbox never marks read.
        again = await call(session, "fetch_inbox", unread_only=True, include_bodies=True)
        assert again["messages"][0]["body_md"] == "OK, go"
        marked = await call(session, "mark_message_read", message_ids=[reply.message.id])
        assert marked["messages"][0]["read"] is not None
        assert (await call(session, "fetch_inbox", unread_only=True))["messages"] == []
        thread = await call(session, "get_thread", thread_id=sent["message"]["thread_id"])
        assert [m["body_md"] for m in thread["messages"]] == ["Step 1", "OK, go"]
        answer = await call(session, "reply_message", message_id=reply.message.id, body_md="Done")
        assert answer["message"]["subject"] == "Re: Plan"
        acked = await call(session, "acknowledge_message", message_ids=[reply.message.id])
        assert acked["messages"][0]["acknowledged"] is not None
        hits = await call(session, "search_messages", query="Plan")
        assert {h["id"] for h in hits["hits"]} >= {sent["message"]["id"]}
        summary = await call(session, "summarize_thread", thread_id=sent["message"]["thread_id"])
        assert set(summary["participants"]) == {"Alice", "Bob"}
        agents = await call(session, "list_agents")
        assert {a["name"] for a in agents["agents"]} == {"Alice", "Bob"}
        assert (await call(session, "whois", agent_name="Bob"))["program"] == "pytest"


async def test_reservations_and_contacts_through_the_tools(bridge: Bridge, mcp_team: Team) -> None:
    await mcp_team.bob.reserve_paths("src/api/**", reason="refactor")
    async with bridge() as session:
        await call(session, "register_agent")
        check = await call(session, "check_file_reservation_conflicts", paths=["src/api/x.py"])
        assert check["conflicts"][0]["holders"][0]["agent"] == "Bob"
        granted = await call(session, "file_reservation_paths", paths=["docs/**"], reason="docs")
        (lease,) = granted["granted"]
        assert lease["pattern"] == "docs/**" and lease["exclusive"] is True
        renewed = await call(session, "renew_file_reservations", ids=[lease["id"]])
        assert [r["id"] for r in renewed["renewed"]] == [lease["id"]]
        released = await call(session, "release_file_reservations", release_all=True)
        assert [r["id"] for r in released["released"]] == [lease["id"]]
        policy = await call(session, "set_contact_policy", policy="contacts_only")
        assert policy["contact_policy"] == "contacts_only"
        asked = await call(session, "request_contact", to_agent="Bob", reason="API review")
        assert asked["contact"]["to_agent"] == "Bob"
        contacts = await call(session, "list_contacts")
        assert [(c["from_agent"], c["to_agent"]) for c in contacts["contacts"]] == [
            ("Alice", "Bob")
        ]


async def test_bad_input_is_a_tool_error_with_the_servers_reason_and_a_hint(
    bridge: Bridge,
) -> None:
    async with bridge() as session:
        unregistered = await call_error(session, "fetch_inbox")
        assert "register_agent" in unregistered and "Traceback" not in unregistered
        await call(session, "register_agent")
        missing = await call_error(session, "send_message", to=["Nobody"], subject="hi")
        assert "failed [" in missing and "Hint:" in missing, missing
        assert "Traceback" not in missing
        gone = await call_error(session, "get_message", message_id=999_999)
        assert "[MESSAGE_NOT_FOUND]" in gone or "NOT_FOUND" in gone, gone
        # Schema violations are refused before reaching the server.
        schema = await call_error(session, "wait_for_mail", timeout_seconds=0)
        assert "timeout_seconds" in schema


def test_token_file_path_is_private(tmp_path: pathlib.Path) -> None:
    from agentmail_mcp._config import ConfigError, read_token, write_private  # noqa: PLC0415

    path = tmp_path / "t" / "a.token"
    write_private(path, "secret\n")
    assert read_token(path) == "secret"
    path.chmod(0o644)
    try:
        read_token(path)
    except ConfigError as error:
        assert "chmod 600" in str(error)
    else:
        raise AssertionError("a world-readable token file was accepted")


async def test_a_world_readable_token_file_is_refused_as_a_tool_error(
    bridge: Bridge, mcp_team: Team
) -> None:
    token_file = mcp_team.home / "Alice.token"
    token_file.write_text("whatever\n")
    token_file.chmod(0o644)
    async with bridge() as session:
        text = await call_error(session, "fetch_inbox")
    assert "chmod 600" in text
