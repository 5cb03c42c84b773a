"""``agentmail-admin retention``: what the retention policy would purge, or purging offline.

``--dry-run`` reads the database directly (read-only, no lock), so it works beside a running
server as well as on a stopped one, and needs no admin RPC (the gRPC API authenticates agents,
not operators). It counts exactly what a purge at that moment would remove, by the same query.
``--now`` asks what would go at another date ("what goes next week if I set 30 days?").

Without ``--dry-run`` it purges a stopped server's data folder (it takes the data folder's
lock, so it refuses a folder a server is using: set ``retention_days`` on that server
instead), in the same batches the server's background purge uses.
"""

from __future__ import annotations

import argparse
import datetime
import sqlite3

from agentmail_server.config import ServerConfig
from agentmail_server.datalock import DataFolderLock
from agentmail_server.domain.retention import Purged, cutoff
from agentmail_server.services.retention import BATCH
from agentmail_server.storage.sqlite import schema
from agentmail_server.storage.sqlite.connection import open_writer, reader_uri
from agentmail_server.storage.sqlite.retention import count_purgeable, purge_batch


class RetentionError(RuntimeError):
    """The command could not run; the message says why, in one line."""


def _days(text: str) -> int:
    days = int(text)
    if days < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return days


def _instant(text: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The retention command's options."""
    parser.add_argument("--days", type=_days, required=True, help="purge mail older than this")
    parser.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    parser.add_argument(
        "--now",
        type=_instant,
        help="count from this ISO 8601 time instead of now (UTC unless it says otherwise)",
    )


def _describe(purged: Purged, before: int) -> str:
    moment = datetime.datetime.fromtimestamp(before / 1e6, datetime.UTC).isoformat()
    if not purged.messages:
        return f"no message created before {moment}"
    return (
        f"{purged.messages} messages (ids {purged.first_id}-{purged.last_id}, created before "
        f"{moment}), {purged.deliveries} deliveries, {purged.idempotency_keys} idempotency keys, "
        f"{purged.notices} coordination events and their search index entries"
    )


def _dry_run(paths: ServerConfig, before: int) -> Purged:
    conn = sqlite3.connect(reader_uri(paths.database_path), uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one snapshot for every count
        return count_purgeable(conn, before)
    finally:
        conn.close()


def _purge(paths: ServerConfig, before: int) -> Purged:
    lock = DataFolderLock(paths.data_dir)
    try:
        lock.acquire()
    except RuntimeError as exc:
        raise RetentionError(
            f"{exc}; set retention_days on it, or stop it, or use --dry-run"
        ) from None
    try:
        conn = open_writer(paths.database_path, "full")
        try:
            schema.migrate(conn)  # an older database gets the id high-water table first
            total = Purged()
            while True:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    batch = purge_batch(conn, before, BATCH)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                total += batch
                if not batch.more:
                    return total
        finally:
            conn.close()
    finally:
        lock.release()


def run(args: argparse.Namespace, paths: ServerConfig) -> int:
    """Run ``retention`` on the data folder of ``paths``; returns the exit code."""
    if not paths.database_path.is_file():
        raise RetentionError(f"no database at {paths.database_path}")
    now = args.now or datetime.datetime.now(datetime.UTC)
    before = cutoff(int(now.timestamp() * 1_000_000), args.days)
    try:
        if args.dry_run:
            print(f"would purge {_describe(_dry_run(paths, before), before)}")
        else:
            print(f"purged {_describe(_purge(paths, before), before)}")
    except sqlite3.Error as exc:
        raise RetentionError(f"{paths.database_path}: {exc}") from exc
    return 0
