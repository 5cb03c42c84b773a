"""Push over a real stdio bridge: resource subscriptions driven by the inbox stream, and
Claude Code channel mode (headline only, never the body); the stream ends cleanly."""

from __future__ import annotations

import asyncio
import json
import pathlib
from typing import Any

import pytest
from mcp import types
from mcp.client.extension import NotificationBinding
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from .conftest import Team, call, open_bridge

# Generous: a notification normally arrives in milliseconds; this only bounds a failure.
ARRIVAL = 15.0
# What a bridge that leaked a task, a warning or an exception would print on its way out.
UNCLEAN = ("Traceback", "Warning", "leaked", "Task was destroyed", "never awaited", "Exception")


# The SDK's client marks resources/subscribe deprecated (the 2026-07-28 wire replaces it with
# subscriptions/listen), but the handshake-era wire, which the harnesses speak, still has it.
LEGACY_SUBSCRIBE = pytest.mark.filterwarnings(
    "ignore:resources/:mcp.shared.exceptions.MCPDeprecationWarning"
)


class ChannelParams(BaseModel):
    """The params of ``notifications/claude/channel``."""

    content: str
    meta: dict[str, str]


def _clean(errlog: pathlib.Path) -> str:
    text = errlog.read_text()
    assert not [word for word in UNCLEAN if word in text], text
    return text


@LEGACY_SUBSCRIBE
async def test_an_inbox_subscription_is_told_of_mail_until_unsubscribed(
    mcp_team: Team, tmp_path: pathlib.Path
) -> None:
    updates: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.put_nowait(str(message.params.uri))

    errlog = tmp_path / "bridge.err"
    with errlog.open("w") as err:
        async with open_bridge(
            mcp_team, errlog=err, env={"PYTHONWARNINGS": "always"}, message_handler=on_message
        ) as session:
            await call(session, "register_agent")
            capabilities = session.server_capabilities
            assert capabilities is not None and capabilities.resources is not None
            assert capabilities.resources.subscribe is True
            await session.subscribe_resource("agentmail://inbox")
            # subscribe returned: the stream is live, so this message cannot be missed.
            await mcp_team.bob.send_message("Alice", subject="ping", body="b")
            async with asyncio.timeout(ARRIVAL):
                assert await updates.get() == "agentmail://inbox"
            await session.unsubscribe_resource("agentmail://inbox")
            await call(session, "wait_for_mail", timeout_seconds=1)  # starts its cursor at now
            await mcp_team.bob.send_message("Alice", subject="unheard", body="b")
            woken = await call(session, "wait_for_mail", timeout_seconds=10)
            assert [m["subject"] for m in woken["messages"]] == ["unheard"]
            assert updates.empty(), "notified after unsubscribing"
    _clean(errlog)


@LEGACY_SUBSCRIBE
async def test_a_reservations_subscription_is_told_of_a_conflict(
    mcp_team: Team,
) -> None:
    updates: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.put_nowait(str(message.params.uri))

    async with open_bridge(mcp_team, message_handler=on_message) as session:
        await call(session, "register_agent")
        await call(session, "file_reservation_paths", paths=["src/**"], reason="refactor")
        await session.subscribe_resource("agentmail://reservations")
        await mcp_team.bob.reserve_paths("src/api.py", reason="fix")
        async with asyncio.timeout(ARRIVAL):
            assert await updates.get() == "agentmail://reservations"
        with pytest.raises(MCPError) as refused:
            await session.subscribe_resource("agentmail://message/1")
        assert "can be subscribed to" in str(refused.value)


async def test_channel_mode_pushes_the_headline_of_each_new_message_and_never_its_body(
    mcp_team: Team, tmp_path: pathlib.Path
) -> None:
    pushed: asyncio.Queue[ChannelParams] = asyncio.Queue()

    async def on_channel(params: ChannelParams) -> None:
        pushed.put_nowait(params)

    binding = NotificationBinding(
        method="notifications/claude/channel", params_type=ChannelParams, handler=on_channel
    )
    errlog = tmp_path / "bridge.err"
    with errlog.open("w") as err:
        async with open_bridge(
            mcp_team,
            errlog=err,
            env={"AGENTMAIL_MCP_CHANNEL": "1", "PYTHONWARNINGS": "always"},
            notification_bindings=[binding],
        ) as session:
            capabilities = session.server_capabilities
            assert capabilities is not None
            assert capabilities.experimental == {"claude/channel": {}}
            assert session.instructions is not None and "<channel>" in session.instructions
            await call(session, "register_agent")  # returns once the stream is live
            # Alice's own mail (a copy to herself) is never pushed; Bob's is, in order.
            await call(session, "send_message", to=["Bob"], cc=["Alice"], subject="mine")
            sent = await mcp_team.bob.send_message(
                "Alice", subject="Deploy now?", body="SECRET-BODY", importance=None
            )
            async with asyncio.timeout(ARRIVAL):
                params = await pushed.get()
    _clean(errlog)
    message_id = sent.message.id
    assert params.meta == {
        "message_id": str(message_id),
        "sender": "Bob",
        "subject": "Deploy now?",
        "importance": "normal",
    }
    assert f"message {message_id} from Bob" in params.content
    assert "SECRET-BODY" not in json.dumps(params.model_dump())
    assert pushed.empty()


async def test_without_channel_mode_there_is_no_channel_capability(mcp_team: Team) -> None:
    async with open_bridge(mcp_team) as session:
        capabilities = session.server_capabilities
        assert capabilities is not None and not capabilities.experimental


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--channel", "--http", "127.0.0.1:0"], "stdio only"),
        (["--http", "nonsense"], "HOST:PORT"),
        (["--http", "0.0.0.0:8765"], "loopback"),
        (["--tls-client-cert", "/nonexistent.pem"], "go together"),
        (["--tls-roots", "/nonexistent/ca.pem"], "cannot read"),
    ],
)
async def test_bad_bridge_settings_exit_with_one_clear_line(
    mcp_team: Team, args: list[str], needle: str
) -> None:
    from .conftest import AGENTMAIL_MCP  # noqa: PLC0415

    process = await asyncio.create_subprocess_exec(
        str(AGENTMAIL_MCP),
        *args,
        env=mcp_team.env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _, stderr = await process.communicate()
    text = stderr.decode()
    assert process.returncode == 2, (process.returncode, text)
    # argparse prints its usage first; the error is one line, last.
    assert text.strip().splitlines()[-1].startswith("agentmail-mcp: error:"), text
    assert needle in text and "Traceback" not in text, text
