"""Fixtures running the installed ``agentmail`` command in subprocesses against a real server.

Each test gets config and state folders of its own (``XDG_CONFIG_HOME``, ``XDG_STATE_HOME``), an
environment without the caller's ``AGENTMAIL_*`` variables, and the server's address in
``AGENTMAIL_ADDRESS``. Commands run as asyncio subprocesses: the server runs in the test's own
event loop, which a blocking ``subprocess.run`` would stall.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

AGENTMAIL = pathlib.Path(sys.executable).parent / "agentmail"
COMMAND_SECONDS = 60
PROJECT_KEY = "/srv/cli-project"


@dataclasses.dataclass(frozen=True)
class Result:
    """What one run of the command did."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The one JSON object printed on stdout."""
        lines = self.stdout.splitlines()
        assert len(lines) == 1, f"expected one JSON line, got {self.stdout!r}"
        return json.loads(lines[0])

    def error(self) -> Any:
        """The JSON error report printed on stderr (with --json)."""
        return json.loads(self.stderr.strip().splitlines()[-1])["error"]


class Cli:
    """Runs ``agentmail`` with an isolated home, talking to ``address``."""

    def __init__(self, home: pathlib.Path, address: str) -> None:
        assert AGENTMAIL.exists(), f"{AGENTMAIL} is not installed: pip install -e ."
        self.home = home
        self.address = address
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTMAIL_")}
        self.env.update(
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_STATE_HOME=str(home / "state"),
            AGENTMAIL_ADDRESS=address,
            # Rich would otherwise size tables for the terminal of whoever runs the tests.
            COLUMNS="200",
        )

    @property
    def config_dir(self) -> pathlib.Path:
        """Where the command keeps config.toml and tokens."""
        return self.home / "config" / "agentmail"

    def token_file(self, profile: str = "default") -> pathlib.Path:
        """The default token file of ``profile``."""
        return self.config_dir / "tokens" / f"{profile}.token"

    def environment(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        """The environment of a run: the isolated one plus ``extra``."""
        return {**self.env, **(extra or {})}

    async def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: pathlib.Path | None = None,
    ) -> Result:
        """Runs ``agentmail ARGS`` to completion."""
        process = await asyncio.create_subprocess_exec(
            str(AGENTMAIL),
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.environment(env),
            cwd=cwd,
        )
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), COMMAND_SECONDS
        )
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())

    async def ok(self, *args: str, **kwargs: Any) -> Result:
        """Runs the command and asserts it succeeded."""
        result = await self(*args, **kwargs)
        assert result.code == 0, result
        return result

    async def spawn(self, *args: str) -> asyncio.subprocess.Process:
        """Starts ``agentmail ARGS`` (stdout piped) and returns it running."""
        return await asyncio.create_subprocess_exec(
            str(AGENTMAIL),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )


@pytest.fixture
def cli(server: Any, tmp_path: pathlib.Path) -> Cli:
    """The command, against the test's server."""
    return Cli(tmp_path / "home", server.address)


@pytest.fixture
async def crew(cli: Cli) -> AsyncIterator[Cli]:
    """``cli`` with a project, Alice registered in the default profile and Bob in ``bob``."""
    slug = (await cli.ok("project", "ensure", PROJECT_KEY)).stdout.strip()
    await cli.ok("--project", slug, "register", "Alice", "--program", "pytest")
    await cli.ok("--profile", "bob", "--project", slug, "register", "Bob")
    yield cli
