"""Helpers for the operations tests: running ``agentmail-admin`` as its own process."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import Awaitable, Callable

import pytest

ADMIN_SECONDS = 120


@dataclasses.dataclass(frozen=True)
class Ran:
    """A finished command: exit code and output."""

    code: int
    out: str
    err: str


async def run_admin(*args: str, env: dict[str, str] | None = None) -> Ran:
    """``python -m agentmail_server.admin ARGS`` (the ``agentmail-admin`` command), without the
    caller's AGENTMAIL_* variables unless given in ``env``."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("AGENTMAIL_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server.admin",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**base, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), ADMIN_SECONDS)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


@pytest.fixture(name="admin")
def admin_fixture() -> Callable[..., Awaitable[Ran]]:
    """``await admin(*args, env=...)``: run agentmail-admin and return what it did."""
    return run_admin
