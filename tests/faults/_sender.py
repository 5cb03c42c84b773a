"""A sender process for the kill -9 test: sends to Bob until told to stop, through stubs.

Usage: ``python _sender.py ADDRESS_FILE TOKEN PREFIX ACK_FILE STOP_FILE``

Each send has an idempotency key ``PREFIX-<n>``; a send is repeated with the same key until
the server acknowledges it (the server may have been killed and restarted on another port,
read again from ADDRESS_FILE), and only then written to ACK_FILE as ``key id``. It stops at the
first send after STOP_FILE exists, or after ``MAX_SECONDS`` whatever happens (bounded).
Traffic goes only to the 127.0.0.1 address the test writes.
"""

from __future__ import annotations

import pathlib
import sys
import time

import grpc
from agentmail.v1 import mail_service_pb2, mail_service_pb2_grpc

MAX_SECONDS = 120.0
RETRY_SECONDS = 0.05
CALL_SECONDS = 5.0


def main(address_file: str, token: str, prefix: str, ack_file: str, stop_file: str) -> int:
    """Send until stopped; returns the exit code."""
    addresses, stop = pathlib.Path(address_file), pathlib.Path(stop_file)
    deadline = time.monotonic() + MAX_SECONDS
    metadata = (("authorization", f"Bearer {token}"),)
    address, channel, stub = "", None, None
    with pathlib.Path(ack_file).open("a", encoding="utf-8") as acks:
        seq = 0
        while time.monotonic() < deadline:
            if stop.exists():
                break
            current = addresses.read_text(encoding="utf-8").strip()
            if not current:
                time.sleep(RETRY_SECONDS)
                continue
            if current != address or stub is None:
                if channel is not None:
                    channel.close()
                address = current
                channel = grpc.insecure_channel(address)
                stub = mail_service_pb2_grpc.MailServiceStub(channel)
            key = f"{prefix}-{seq}"
            try:
                reply = stub.SendMessage(
                    mail_service_pb2.SendMessageRequest(
                        to=["Bob"], subject=key, body="b", idempotency_key=key
                    ),
                    metadata=metadata,
                    timeout=CALL_SECONDS,
                )
            except grpc.RpcError as err:
                if err.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.CANCELLED,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                ):
                    print(f"{key}: {err.code()} {err.details()}", file=sys.stderr)
                    return 1
                time.sleep(RETRY_SECONDS)  # a separate process: nothing else waits on it
                continue
            acks.write(f"{key} {reply.message.id}\n")
            acks.flush()
            seq += 1
    if channel is not None:
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
