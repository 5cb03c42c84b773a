"""``agentmail-admin retention``: what the retention policy would purge, or purging offline.

``--dry-run`` reads the database directly (read-only, no lock), so it works beside a running
server as well as on a stopped one, and needs no admin RPC (the gRPC API authenticates agents,
not operators). It counts exactly what a purge at that moment would remove, by the same query.
``--now`` asks what would go at another date ("what goes next week if I set 30 days?").

Without ``--dry-run`` it purges a stopped server's data folder (it takes the data folder's
lock, so it refuses a folder a server is using: set ``retention_days`` on that server
instead), in the same batches the server's background purge uses.

With ``--database-url`` (or ``AGENTMAIL_DATABASE_URL``) it works on that PostgreSQL database
instead, by the PostgreSQL backend's own queries. There the purge needs no stopped server: every
batch takes the purge's advisory lock, so it never runs beside another process's batch; when a
server holds that lock the command stops and says so (that server is purging the same mail).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sqlite3

import psycopg

from agentmail_server.config import ServerConfig, is_postgres_url
from agentmail_server.datalock import DataFolderLock
from agentmail_server.domain.retention import Purged, cutoff
from agentmail_server.services.retention import BATCH
from agentmail_server.storage.postgres import retention as pg_retention
from agentmail_server.storage.postgres.connection import connect, describe
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
    parser.add_argument(
        "--database-url",
        help="the PostgreSQL database of servers run with --database-url, instead of the data "
        "folder (default: AGENTMAIL_DATABASE_URL)",
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


async def _on_postgres(url: str, before: int, dry_run: bool) -> Purged:
    conn = await connect(url)
    try:
        if dry_run:
            return await pg_retention.count_purgeable(conn, before)
        total = Purged()
        while True:
            batch = await pg_retention.purge_batch(conn, before, BATCH)
            if batch is None:
                raise RetentionError(
                    f"another agentmail server is purging {describe(url)} now (it holds the"
                    f" retention lock); purged {_describe(total, before)} before it did"
                )
            total += batch
            if not batch.more:
                return total
    finally:
        await conn.close()


def _run_postgres(args: argparse.Namespace, url: str, before: int) -> int:
    if not is_postgres_url(url):
        # Not repeated: it may carry a password.
        raise RetentionError("--database-url must be a postgresql:// URL")
    try:
        purged = asyncio.run(_on_postgres(url, before, args.dry_run))
    except RuntimeError as exc:  # the connection failed (its message names no password)
        raise RetentionError(str(exc)) from None
    except psycopg.Error as exc:
        raise RetentionError(f"{describe(url)}: {type(exc).__name__}") from None
    print(f"{'would purge' if args.dry_run else 'purged'} {_describe(purged, before)}")
    return 0


def run(args: argparse.Namespace, paths: ServerConfig, database_url: str = "") -> int:
    """Run ``retention`` on the PostgreSQL database of ``--database-url`` (or
    ``database_url``, the configured one), else on the data folder of ``paths``; returns the
    exit code."""
    now = args.now or datetime.datetime.now(datetime.UTC)
    before = cutoff(int(now.timestamp() * 1_000_000), args.days)
    if url := args.database_url or database_url:
        return _run_postgres(args, url, before)
    if not paths.database_path.is_file():
        raise RetentionError(f"no database at {paths.database_path}")
    try:
        if args.dry_run:
            print(f"would purge {_describe(_dry_run(paths, before), before)}")
        else:
            print(f"purged {_describe(_purge(paths, before), before)}")
    except sqlite3.Error as exc:
        raise RetentionError(f"{paths.database_path}: {exc}") from exc
    return 0
