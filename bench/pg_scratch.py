"""What the PostgreSQL benchmarks (``pg_drivers``, ``pg_positions``, ``pg_group_commit``, the
scale-out scenario) share: the admin URL they connect to, the parser that takes it, their
scratch databases and the PostgreSQL server's CPU."""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with ``--url``: the server to create scratch databases on (default
    ``AGENTMAIL_TEST_POSTGRES``, else the local server the tests use)."""
    parsed = argparse.ArgumentParser(description=description)
    parsed.add_argument("--url", default=os.environ.get("AGENTMAIL_TEST_POSTGRES", DEFAULT_URL))
    return parsed


def database_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin_url`` (its query kept)."""
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server of ``admin_url``, dropped on exit (even with sessions
    still open on it); its URL. Blocking: benches call it between their measured phases."""
    import psycopg  # noqa: PLC0415 - only the PostgreSQL benches need the driver

    name = f"agentmail_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}".encode())
    try:
        yield database_url(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def postgres_cpu_seconds() -> float:
    """CPU of every ``postgres`` process on the machine (the server and its backends)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if "(postgres)" not in stat:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total
