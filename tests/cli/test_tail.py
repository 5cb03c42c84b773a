"""``agentmail tail``: live mail from other processes, events, and resuming across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from .conftest import PROJECT_KEY, Cli

LINE_SECONDS = 30
BOB = ("--profile", "bob")


async def next_line(process: asyncio.subprocess.Process) -> str:
    """The next line the process prints (failing after LINE_SECONDS)."""
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), LINE_SECONDS)
    assert line, "the tail ended early"
    return line.decode()


async def until_live(cli: Cli, process: asyncio.subprocess.Process) -> None:
    """Waits until a fresh tail has reached the server: it saves the inbox tail's cursor then
    (without a saved cursor, only mail committed after that point is delivered)."""
    cursor = cli.home / "state" / "agentmail" / "cursors" / "default.cursor"
    async with asyncio.timeout(LINE_SECONDS):
        while not cursor.exists():
            assert process.returncode is None, "the tail exited"
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def tailing(cli: Cli, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """A running ``agentmail tail ARGS``, stopped with SIGTERM (and awaited) on exit."""
    process = await cli.spawn("tail", *args)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), LINE_SECONDS)


async def make_crew(cli: Cli) -> None:
    slug = (await cli.ok("project", "ensure", PROJECT_KEY)).stdout.strip()
    await cli.ok("--project", slug, "register", "Alice")
    await cli.ok("--profile", "bob", "--project", slug, "register", "Bob")


async def test_tail_prints_mail_and_events_as_they_arrive(crew: Cli) -> None:
    async with tailing(crew, "--count", "2") as tail:
        await until_live(crew, tail)
        await crew.ok(*BOB, "send", "--to", "Alice", "-s", "hello", "--importance", "high", "hi")
        header = await next_line(tail)
        assert header.endswith("Bob [high]: hello\n")
        assert await next_line(tail) == "    hi\n"
        await crew.ok("reserve", "src/**")
        assert (await crew(*BOB, "reserve", "src/app.py")).code == 5
        event = await next_line(tail)
        assert "event  reservation #" in event and "src/** conflict by Bob" in event
        assert await asyncio.wait_for(tail.wait(), LINE_SECONDS) == 0


async def test_tail_resumes_across_a_server_restart_without_repeats_or_gaps(
    tmp_path: pathlib.Path,
    server_on: Callable[[pathlib.Path, int], contextlib.AbstractAsyncContextManager[Any]],
    free_port: Callable[[], int],
) -> None:
    data, port = tmp_path / "data", free_port()
    cli = Cli(tmp_path / "home", f"127.0.0.1:{port}")

    def subject(line: str) -> str:
        entry = json.loads(line)
        assert entry["type"] == "message"
        return str(entry["message"]["subject"])

    async def send(subject: str) -> None:
        await cli.ok(*BOB, "send", "--to", "Alice", "-s", subject)

    async with server_on(data, port):
        await make_crew(cli)
    # The tail starts while the server is down, and outlives two runs of it.
    async with tailing(cli, "--json") as tail:
        async with server_on(data, port):
            await until_live(cli, tail)
            await send("before the restart")
            assert subject(await next_line(tail)) == "before the restart"
        async with server_on(data, port):
            await send("while it was reconnecting")
            await send("after the restart")
            assert subject(await next_line(tail)) == "while it was reconnecting"
            assert subject(await next_line(tail)) == "after the restart"
            tail.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(tail.wait(), LINE_SECONDS) == 0
    async with server_on(data, port):
        # Stopped, then started again: it goes on from its saved cursor.
        await send("while no tail ran")
        async with tailing(cli, "--json", "--count", "1") as again:
            assert subject(await next_line(again)) == "while no tail ran"
            assert await asyncio.wait_for(again.wait(), LINE_SECONDS) == 0
        await send("last")
        resumed = await cli.ok("tail", "--json", "--count", "1")
        assert [subject(line) for line in resumed.stdout.splitlines()] == ["last"]


async def test_a_cursor_from_elsewhere_is_refused_with_a_hint(crew: Cli) -> None:
    cursor = crew.home / "state" / "agentmail" / "cursors" / "default.cursor"
    cursor.parent.mkdir(parents=True)
    cursor.write_text("not-a-cursor")
    result = await crew("tail")
    assert result.code == 2
    assert "agentmail tail --reset" in result.stderr
    assert "Traceback" not in result.stderr
