"""The storage backends the chosen test modules run against: SQLite, and PostgreSQL when a
server listens.

Modules listed in :data:`BOTH_BACKENDS` run each test that starts a server (through the
``server`` or ``start_server`` fixtures) once per backend, ``[sqlite]`` and ``[postgres]``;
every other test runs on SQLite only, unchanged. PostgreSQL is the server at
``AGENTMAIL_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``, the one
CI starts): each test session (each xdist worker) creates a fresh database of its own there and
drops it at the end. Each test of these modules starts on the schema as a first start's
migrations leave it (migrated once per session, then reset between tests: ``pg_baseline``);
tests/postgres starts from an empty schema, so its servers migrate it. With no server
listening, the ``[postgres]`` tests skip saying so, except under ``CI`` (set by ``.ci/run``),
where they fail: CI must run both backends.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pg_baseline
import pytest

ADMIN_URL = os.environ.get(
    "AGENTMAIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgres")
# Test modules (paths from the repository root) run against both backends: the core mail
# contract. Add a module here once its tests pass on PostgreSQL.
BOTH_BACKENDS = frozenset(
    {
        "tests/integration/test_agents.py",
        "tests/integration/test_auth.py",
        "tests/integration/test_bcc_privacy.py",
        "tests/integration/test_cursors.py",
        "tests/integration/test_get_message.py",
        "tests/integration/test_idempotency.py",
        "tests/integration/test_inbox.py",
        "tests/integration/test_outbox_thread.py",
        "tests/integration/test_projects.py",
        "tests/integration/test_read_ack.py",
        "tests/integration/test_receipts.py",
        "tests/integration/test_reply.py",
        "tests/integration/test_send.py",
        "tests/search/test_filters.py",
        "tests/search/test_pagination.py",
        "tests/search/test_query_syntax.py",
        "tests/search/test_visibility.py",
        "tests/subscriptions/test_delivery.py",
        "tests/integration/test_ack_tracking.py",
        "tests/integration/test_concurrency.py",
        "tests/integration/test_cursor_restart.py",
        "tests/integration/test_restart.py",
        "tests/integration/test_idempotency_window.py",
        "tests/integration/test_text_fields.py",
        "tests/integration/test_wire_values.py",
        "tests/integration/test_malformed_requests.py",
        "tests/integration/test_clock.py",
        "tests/search/test_hostile_queries.py",
        "tests/search/test_ranking.py",
        "tests/search/test_summarize_thread.py",
        "tests/subscriptions/test_bcc_replay.py",
        "tests/subscriptions/test_resilience.py",
        "tests/subscriptions/test_agent_events.py",
        "tests/contacts/test_refusals.py",
        "tests/contacts/test_presence.py",
        "tests/contacts/test_lifecycle.py",
        "tests/contacts/test_contacts.py",
        "tests/reservations/test_check_and_list.py",
        "tests/reservations/test_contacts.py",
        "tests/reservations/test_events.py",
        "tests/reservations/test_lifecycle.py",
        "tests/reservations/test_operator_release.py",
        "tests/reservations/test_race.py",
        "tests/reservations/test_reserve.py",
        "tests/integration/test_send_messages.py",
        "tests/search/test_relevance_bound.py",
        "tests/subscriptions/test_contact_events.py",
        "tests/limits/test_flood_guard.py",
        "tests/integration/test_health_reflection.py",
        "tests/contract/test_error_status_snapshot.py",
        "tests/security/test_token_lifecycle.py",
        "tests/limits/test_subscription_cap.py",
        "tests/limits/test_tiers.py",
        # The archive's content on PostgreSQL (its pacing and git engine do not depend on the
        # backend: tests/archive's other modules stay on SQLite to keep CI short).
        "tests/archive/test_layout.py",
        "tests/archive/test_bcc_privacy.py",
        "tests/archive/test_reservations.py",
        "tests/archive/test_bulk_sends.py",
        "tests/ops/test_retention.py",
        # The typed client against each backend, and every service's metrics.
        "tests/client/test_client.py",
        "tests/client/test_subscribe.py",
        "tests/client/test_wait_for_mail.py",
        "tests/client/test_errors.py",
        "tests/client/test_receipts.py",
        "tests/client/test_reservations.py",
        "tests/client/test_contacts.py",
        "tests/client/test_search.py",
        "tests/metrics/test_every_service.py",
    }
)
# Tests of those modules that stay on SQLite, each for the reason beside it.
SQLITE_ONLY = frozenset(
    {
        # About the SQLite backend itself: its migrations, its backup files.
        "tests/integration/test_idempotency.py::"
        "test_a_version_3_database_is_migrated_and_keeps_its_keys",
        "tests/integration/test_cursor_restart.py::"
        "test_a_restored_backup_keeps_its_cursors_and_refuses_later_ones",
        # Rebuilds from the SQLite file by its path (verify on PostgreSQL is tested in
        # tests/postgres/test_archive_leader.py).
        "tests/archive/test_reservations.py::test_a_rebuild_reproduces_the_reservation_files",
        # The admin command on a data folder: its lock refuses an offline purge beside a running
        # server. On PostgreSQL the command takes --database-url and purges beside running
        # servers (tests/postgres/test_retention.py).
        "tests/ops/test_retention.py::"
        "test_dry_run_beside_a_running_server_counts_what_the_purge_removes",
        # SQLite's deferred FTS5 indexer; PostgreSQL computes the search vector in the send.
        "tests/ops/test_retention.py::"
        "test_purging_mail_the_indexer_has_not_reached_keeps_the_index_right",
    }
)


def listening(url: str) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """Skip (or, under CI, fail) when no PostgreSQL server listens at :data:`ADMIN_URL`."""
    if listening(ADMIN_URL):
        return
    where = urlsplit(ADMIN_URL)
    reason = (
        f"no PostgreSQL server listening on {where.hostname}:{where.port or 5432}"
        " (set AGENTMAIL_TEST_POSTGRES to an admin URL, or start one: .ci/run does)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the PostgreSQL backend", pytrace=False)
    pytest.skip(reason)


class SessionDatabase:
    """One scratch database for this test session, created on first use, dropped at the end."""

    def __init__(self) -> None:
        self.name = f"agentmail_test_{uuid.uuid4().hex[:12]}"
        self._created = False
        self._baseline: pg_baseline.Baseline | None = None

    @property
    def url(self) -> str:
        """The URL a server under test connects to."""
        parts = urlsplit(ADMIN_URL)
        return urlunsplit(parts._replace(path="/" + self.name))

    def fresh(self) -> str:
        """Create the database if needed, empty it (nothing left of an earlier test, not even
        the schema), and return its URL."""
        import psycopg  # noqa: PLC0415 - only tests on PostgreSQL need the driver

        if not self._created:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {self.name}".encode())
            self._created = True
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return self.url

    def migrated(self) -> str:
        """Create the database if needed, put it in the state a first start's migrations leave
        (all data of an earlier test gone), and return its URL.

        The first call migrates an empty schema and records the result; later calls put that
        record back, or start over the same way when an earlier test changed the schema.
        """
        if self._baseline is None or not pg_baseline.restore(self.url, self._baseline):
            pg_baseline.migrate(self.fresh())
            self._baseline = pg_baseline.record(self.url)
        return self.url

    def drop(self) -> None:
        """Drop the database (its connections are closed first)."""
        if not self._created:
            return
        import psycopg  # noqa: PLC0415

        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)".encode())


def session_database() -> Iterator[SessionDatabase]:
    """The body of the session fixture: yields the session's database, drops it afterwards."""
    database = SessionDatabase()
    try:
        yield database
    finally:
        database.drop()
