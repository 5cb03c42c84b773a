"""Fixtures running the installed ``agentmail-mcp`` as a stdio subprocess, driven by the MCP
SDK's own client, against a real in-process agentmail server.

Each bridge is opened inside the test's own task (``async with bridge(...)``): the SDK's stdio
client holds an anyio task group, which must be entered and left by the same task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TextIO

import pytest
from agentmail_client import AgentmailClient
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

AGENTMAIL_MCP = pathlib.Path(sys.executable).parent / "agentmail-mcp"
PROJECT_KEY = "/srv/mcp-project"


@dataclasses.dataclass(frozen=True)
class Team:
    """A project with Bob registered through the typed client; Alice is the bridge's agent."""

    address: str
    project: str
    home: pathlib.Path
    bob: AgentmailClient

    def env(self, agent: str = "Alice") -> dict[str, str]:
        """The bridge's environment: the same variables the ``agentmail`` command reads."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTMAIL_")}
        env.update(
            AGENTMAIL_ADDRESS=self.address,
            AGENTMAIL_PROJECT=self.project,
            AGENTMAIL_AGENT=agent,
            AGENTMAIL_TOKEN_FILE=str(self.home / f"{agent}.token"),
            AGENTMAIL_MCP_STATE_DIR=str(self.home / "state"),
        )
        return env


@pytest.fixture
async def mcp_team(server: Any, tmp_path: pathlib.Path) -> AsyncIterator[Team]:
    """A project and Bob (a typed client) on the test's server."""
    async with AgentmailClient(server.address) as anonymous:
        slug = (await anonymous.ensure_project(PROJECT_KEY)).project.slug
        registered = await anonymous.register_agent(slug, "Bob", program="pytest")
        bob = anonymous.with_token(registered.token)
        yield Team(server.address, slug, tmp_path, bob)


@contextlib.asynccontextmanager
async def open_bridge(
    team: Team,
    agent: str = "Alice",
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    errlog: TextIO | None = None,
    **session_options: Any,
) -> AsyncIterator[ClientSession]:
    """A started ``agentmail-mcp`` for ``agent``, as an initialised MCP client session.

    ``args`` and ``env`` add flags and variables; ``errlog`` receives the bridge's stderr;
    ``session_options`` go to the SDK's ``ClientSession`` (such as ``message_handler``).
    """
    assert AGENTMAIL_MCP.exists(), f"{AGENTMAIL_MCP} is not installed: pip install -e ."
    params = StdioServerParameters(
        command=str(AGENTMAIL_MCP), args=list(args), env={**team.env(agent), **(env or {})}
    )
    async with (
        stdio_client(params, errlog=errlog or sys.stderr) as (read, write),
        ClientSession(read, write, **session_options) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture(name="bridge")
def bridge_fixture(
    mcp_team: Team,
) -> Callable[..., contextlib.AbstractAsyncContextManager[ClientSession]]:
    """Opens a bridge of ``mcp_team`` (``async with bridge() as session``)."""
    return lambda agent="Alice": open_bridge(mcp_team, agent)


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Calls ``tool`` and returns its structured result, failing on a tool error."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


async def call_error(session: ClientSession, tool: str, **arguments: Any) -> str:
    """Calls ``tool``, asserts it failed as a tool error, and returns the error's text."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result
    return _text(result)


def _text(result: types.CallToolResult) -> str:
    return "\n".join(
        c.text if isinstance(c, types.TextContent) else json.dumps(c.model_dump())
        for c in result.content
    )
