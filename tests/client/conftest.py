"""Fixtures of the client tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest


@pytest.fixture
async def hung_address() -> AsyncIterator[str]:
    """Address of a listener that accepts TCP connections and never answers, like a hung host."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    listener = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        listener.close()
        for writer in held:
            writer.close()
            await writer.wait_closed()
        await listener.wait_closed()
