"""A client process for the memory test: opens SubscribeInbox streams and never reads them.

Usage: ``python _streams.py ADDRESS TOKEN COUNT READY_FILE``

Opens COUNT streams to the 127.0.0.1 ADDRESS as TOKEN (500 per connection), waits for each
stream's first heartbeat (so the server holds it live), writes READY_FILE, then reads nothing
more. The test may SIGSTOP it (a stalled client) and SIGKILLs it (a client that vanishes
without closing); it exits by itself after ``MAX_SECONDS`` in any case (bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import sys

import grpc
from agentmail.v1 import mail_service_pb2, mail_service_pb2_grpc

MAX_SECONDS = 300.0
PER_CONNECTION = 500
BATCH = 250


async def main(address: str, token: str, count: int, ready: str) -> None:
    """Open the streams, report ready, then hold them without reading."""
    metadata = (("authorization", f"Bearer {token}"),)
    channels = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(0, count, PER_CONNECTION)
    ]
    calls = []
    async with asyncio.timeout(MAX_SECONDS):
        # In batches: gRPC core cancels calls beyond ``grpc.server.max_pending_requests``
        # (1,000) that the server has not yet picked up, so a burst of thousands is refused.
        for start in range(0, count, BATCH):
            batch = [
                mail_service_pb2_grpc.MailServiceStub(channels[i // PER_CONNECTION]).SubscribeInbox(
                    mail_service_pb2.SubscribeInboxRequest(), metadata=metadata
                )
                for i in range(start, min(count, start + BATCH))
            ]
            for call in batch:
                first = await call.read()
                assert first.HasField("heartbeat"), first
            calls.extend(batch)
        # A few bytes once, in a process of its own: nothing else waits on this loop.
        pathlib.Path(ready).write_text(str(len(calls)), encoding="utf-8")  # noqa: ASYNC240
        await asyncio.sleep(MAX_SECONDS)  # holds the streams open, reading nothing


if __name__ == "__main__":
    with contextlib.suppress(TimeoutError):  # held for MAX_SECONDS without being killed
        asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
