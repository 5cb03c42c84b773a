"""What the PostgreSQL benchmarks (``pg_drivers``, ``pg_positions``, ``pg_group_commit``, the
scale-out scenario) share: the admin URL they connect to, the parser that takes it, and the
PostgreSQL server's CPU."""

from __future__ import annotations

import argparse
import os
import pathlib

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with ``--url``: the server to create scratch databases on (default
    ``AGENTMAIL_TEST_POSTGRES``, else the local server the tests use)."""
    parsed = argparse.ArgumentParser(description=description)
    parsed.add_argument("--url", default=os.environ.get("AGENTMAIL_TEST_POSTGRES", DEFAULT_URL))
    return parsed


def database_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin_url``."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


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
