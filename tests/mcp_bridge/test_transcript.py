"""The README's transcript: a short real session between two bridges (Alice sends, Carol's
``wait_for_mail`` wakes), each tool call and its result written to ``transcript.txt`` in the
test's temporary folder, and printed with ``AGENTMAIL_PRINT_TRANSCRIPT=1`` (and ``pytest -s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
from typing import Any

from mcp.client.session import ClientSession

from .conftest import Team, call, open_bridge


class Transcript:
    """Tool calls and their results, as ``[Agent] > tool(arguments)`` then the result."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def call(
        self, agent: str, session: ClientSession, tool: str, **arguments: Any
    ) -> dict[str, Any]:
        result = await call(session, tool, **arguments)
        self.record(agent, tool, arguments, result)
        return result

    def record(self, agent: str, tool: str, arguments: dict[str, Any], result: Any) -> None:
        self.lines.append(f"[{agent}] > {tool}({json.dumps(arguments)})")
        self.lines.append(json.dumps(result))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


async def test_a_real_session_for_the_readme(mcp_team: Team, tmp_path: pathlib.Path) -> None:
    log = Transcript()
    async with open_bridge(mcp_team, "Alice") as alice, open_bridge(mcp_team, "Carol") as carol:
        await log.call("Alice", alice, "register_agent", program="claude-code", model="opus-4")
        await log.call("Carol", carol, "register_agent", program="codex")
        # Carol's first wait starts her cursor; the second blocks until Alice's mail arrives.
        await log.call("Carol", carol, "wait_for_mail", timeout_seconds=1)
        waiting = asyncio.create_task(call(carol, "wait_for_mail", timeout_seconds=25))
        sent = await log.call(
            "Alice",
            alice,
            "send_message",
            to=["Carol"],
            subject="API schema ready",
            body_md="The schema is in `api/schema.json`; please review.",
            ack_required=True,
        )
        woken = await waiting
        log.record("Carol", "wait_for_mail", {"timeout_seconds": 25}, woken)
        inbox = await log.call("Carol", carol, "fetch_inbox", include_bodies=True)
    text = log.text()
    path = tmp_path / "transcript.txt"
    path.write_text(text, encoding="utf-8")
    if os.environ.get("AGENTMAIL_PRINT_TRANSCRIPT") == "1":
        print(f"\n--- {path} ---\n{text}", end="")
    message_id = sent["message"]["id"]
    assert [m["id"] for m in woken["messages"]] == [message_id] and not woken["timed_out"]
    assert "body_md" not in woken["messages"][0]
    assert inbox["messages"][0]["body_md"].startswith("The schema is in")
    for agent in ("Alice", "Carol"):
        token = (mcp_team.home / f"{agent}.token").read_text().strip()
        assert token and token not in text
