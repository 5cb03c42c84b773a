"""Follow an agent's inbox live, surviving server restarts and resuming where it left off.

The cursor of each processed message is saved to a file, so that stopping and starting the
subscriber again neither skips nor repeats mail (except the one message that may have been
in hand at a crash: delivery is at least once). Run against a running server::

    agentmail-server --listen 127.0.0.1:7070 --data-dir /tmp/agentmail &
    python clients/examples/subscriber.py 127.0.0.1:7070 --token am_... --cursor-file bob.cursor
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib

from agentmail_client import AgentmailClient, ReconnectPolicy


def load_cursor(path: pathlib.Path) -> str | None:
    """Returns the cursor saved in ``path``, or ``None`` to start with new mail only.

    Args:
        path: The cursor file.
    """
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def save_cursor(path: pathlib.Path, cursor: str) -> None:
    """Replaces the saved cursor atomically, so that a crash leaves the old or the new one.

    Args:
        path: The cursor file.
        cursor: The cursor of the last processed message.
    """
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(cursor, encoding="utf-8")
    os.replace(partial, path)


async def follow(
    target: str, token: str, cursor_file: pathlib.Path, max_items: int | None = None
) -> int:
    """Prints the agent's mail as it arrives until interrupted or ``max_items`` were seen.

    Args:
        target: Server address, such as ``127.0.0.1:7070``.
        token: The agent's token.
        cursor_file: Where the cursor is kept between runs.
        max_items: Stop after this many messages; ``None`` follows forever.

    Returns:
        How many messages were printed.
    """
    seen = 0
    async with (
        AgentmailClient(target, token=token) as client,
        client.subscribe(
            cursor=load_cursor(cursor_file),
            # A plain function is fine; a coroutine function would be awaited.
            on_cursor=lambda cursor: save_cursor(cursor_file, cursor),
            reconnect=ReconnectPolicy(max_backoff=5.0),
            # Heartbeats come every 15 s when idle: a minute of silence means a dead link.
            idle_timeout=60.0,
        ) as inbox,
    ):
        async for item in inbox:
            message = item.message
            print(
                f"#{message.id} from {message.sender} [{message.importance.value}]: "
                f"{message.subject}"
            )
            seen += 1
            if max_items is not None and seen >= max_items:
                # Leaving the block normally marks this last message processed too.
                break
    return seen


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("target", help="server address, such as 127.0.0.1:7070")
    parser.add_argument("--token", required=True, help="the subscribing agent's token")
    parser.add_argument(
        "--cursor-file",
        type=pathlib.Path,
        default=pathlib.Path("agentmail.cursor"),
        help="where the last processed cursor is kept (default: ./agentmail.cursor)",
    )
    args = parser.parse_args()
    # Ctrl-C is the way to stop following; the cursor file already holds the last message.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow(args.target, args.token, args.cursor_file))
