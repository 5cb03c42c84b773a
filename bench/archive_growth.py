"""How the git archive's size grows with the messages in it, when mail trickles in.

Under load the archive takes hundreds of messages per commit; when mail trickles in, each
message is its own commit, and every commit stores a new version of each folder on the
message's paths (the month's folder lists every message of the month). This script starts a
server (its own process, archive on), sends messages one at a time from a rotating sender to a
rotating recipient, and waits after each until the archive has it, so every message is one
commit. At checkpoints it reports the repository's size on disk (no ``git gc``) and bytes per
message: linear growth keeps bytes per message flat, quadratic growth makes it climb.

    python -m bench.archive_growth --messages 3000
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
import tempfile
import time

import grpc
from agentmail.v1 import mail_service_pb2, mail_service_pb2_grpc

from bench.seed import Seeder
from bench.server import running_server

LAG = re.compile(r"^agentmail_archive_lag_messages (\S+)$", re.M)
ARCHIVED_WITHIN = 30.0


def folder_bytes(folder: pathlib.Path) -> int:
    """Bytes of every file below ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def wait_archived(scrape: object, deadline: float) -> None:
    """Until the server reports no message waiting for the archive (bounded)."""
    while time.monotonic() < deadline:
        text = scrape() if callable(scrape) else None
        match = LAG.search(text or "")
        if match and float(match.group(1)) == 0:
            return
        time.sleep(0.002)
    raise TimeoutError("the archive did not catch up")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--checkpoints", type=int, default=6)
    parser.add_argument(
        "--interval",
        type=float,
        default=0.0,
        help="the server's --archive-interval-seconds (default 0: no wait between commits, "
        "so the run is quick; a trickle slower than the interval gives the same commits)",
    )
    args = parser.parse_args(argv)
    names = [f"A{i}" for i in range(args.agents)]
    with tempfile.TemporaryDirectory(prefix="agentmail-growth-") as scratch:
        data = pathlib.Path(scratch) / "data"
        with Seeder(data) as seeder:
            team = seeder.project("/bench/growth", names)
        repository = data / "archive.git"
        rows = []
        extra = ("--archive-interval-seconds", str(args.interval))
        with running_server(data, archive=True, extra=extra) as server:
            channel = grpc.insecure_channel(server.address)
            mail = mail_service_pb2_grpc.MailServiceStub(channel)
            every = max(1, args.messages // args.checkpoints)
            started = time.monotonic()
            for i in range(1, args.messages + 1):
                sender = team.agents[i % args.agents]
                recipient = names[(i * 3 + 1) % args.agents]
                if recipient == sender.name:
                    recipient = names[(i + 1) % args.agents]
                request = mail_service_pb2.SendMessageRequest(
                    to=[recipient],
                    subject=f"Build {i % 31} finished",
                    body=f"Message {i}: the build is green; details follow.\n" * 4,
                    thread_id=f"T{i // 10}",
                )
                mail.SendMessage(
                    request, metadata=(("authorization", f"Bearer {sender.token}"),), timeout=30
                )
                wait_archived(server.scrape, time.monotonic() + ARCHIVED_WITHIN)
                if i % every == 0 or i == args.messages:
                    size = folder_bytes(repository / "objects")
                    row = {
                        "messages": i,
                        "bytes": size,
                        "bytes_per_message": round(size / i),
                        "seconds": round(time.monotonic() - started, 1),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
            channel.close()
    first, last = rows[0], rows[-1]
    growth = last["bytes"] / first["bytes"]
    print(
        f"{last['messages'] / first['messages']:.1f}x the messages took {growth:.1f}x the space "
        f"({first['bytes_per_message']} -> {last['bytes_per_message']} bytes per message)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
