"""The database on a full filesystem (a real tmpfs the test mounts and fills) and read-only:
writes fail with UNAVAILABLE and a stable reason, reads go on, health is NOT_SERVING while
writes fail, nothing acknowledged is lost, and service resumes by itself when space returns.
"""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3
from typing import Any

import grpc
from agentmail.v1 import mail_service_pb2

from .conftest import NOT_SERVING, SERVING, auth, fill, tmpfs, wait_for

FS_BYTES = 24 * 1024 * 1024
BODY = "x" * 32 * 1024
MAX_SENDS = 2_000  # bounded: far more than the filesystem can hold


async def test_full_disk_fails_writes_cleanly_and_heals(
    tmp_path: pathlib.Path, start_server: Any, api_for: Any, rpc_failure: Any
) -> None:
    with tmpfs(tmp_path / "fs", FS_BYTES) as fs:
        async with start_server(fs / "data") as server, api_for(server.address) as api:
            tokens = await api.team("Alice", "Bob")
            acknowledged: list[int] = []

            async def send(subject: str) -> mail_service_pb2.SendMessageResponse:
                return await api.mail.SendMessage(
                    mail_service_pb2.SendMessageRequest(
                        to=["Bob"], subject=subject, body=BODY, idempotency_key=subject
                    ),
                    metadata=auth(tokens["Alice"]),
                )

            for i in range(5):
                acknowledged.append((await send(f"before {i}")).message.id)
            filler = fs / "filler"
            await asyncio.to_thread(fill, filler)

            # The disk is full: sends fail at the latest once the WAL must grow.
            failure = None
            for i in range(MAX_SENDS):
                try:
                    acknowledged.append((await send(f"full {i}")).message.id)
                except grpc.aio.AioRpcError as err:
                    failure = rpc_failure(err)
                    break
            assert failure is not None, "the full disk never failed a write"
            assert (failure.code, failure.reason) == (
                grpc.StatusCode.UNAVAILABLE,
                "STORAGE_FULL",
            ), failure
            assert failure.retry_delay_seconds is not None and failure.retry_delay_seconds > 0

            async def status_is(expected: int) -> bool:
                return await api.health_status() == expected

            await wait_for(lambda: status_is(NOT_SERVING), "health NOT_SERVING")
            # Reads go on, and everything acknowledged is there, once.
            assert await api.inbox_ids(tokens["Bob"]) == acknowledged
            # While full, writes keep failing the same way (the probe has not healed it).
            try:
                await send("still full")
            except grpc.aio.AioRpcError as err:
                assert rpc_failure(err).reason == "STORAGE_FULL"
            else:
                raise AssertionError("a write succeeded on a full disk")
            assert await api.health_status() == NOT_SERVING

            # Space returns: health comes back by itself, without any write to trigger it.
            filler.unlink()
            await wait_for(lambda: status_is(SERVING), "health SERVING again")
            acknowledged.append((await send("after")).message.id)
            assert await api.inbox_ids(tokens["Bob"]) == acknowledged
            assert len(set(acknowledged)) == len(acknowledged)

        # And after a restart, on the same filesystem.
        async with start_server(fs / "data") as server, api_for(server.address) as api:
            assert await api.inbox_ids(tokens["Bob"]) == acknowledged


def test_read_only_database_is_reported_as_read_only(tmp_path: pathlib.Path) -> None:
    # A remount read-only is refused while the server holds files open for writing ("busy"),
    # so the read-only case is checked on SQLite's own error for a read-only database.
    from agentmail_server.storage.sqlite import failures  # noqa: PLC0415

    path = tmp_path / "ro.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("INSERT INTO t VALUES (1)")
    except sqlite3.OperationalError as exc:
        error = failures.classify(exc, path)
    else:
        raise AssertionError("a read-only database took a write")
    finally:
        conn.close()
    assert error.reason == "STORAGE_READ_ONLY"
    assert error.retry_after_seconds and error.retry_after_seconds > 0
