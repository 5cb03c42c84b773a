"""What the PostgreSQL micro-benchmarks (``pg_drivers``, ``pg_positions``) share: the admin URL
they connect to and the parser that takes it."""

from __future__ import annotations

import argparse
import os

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
