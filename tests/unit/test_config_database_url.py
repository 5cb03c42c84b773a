"""The ``database_url`` setting: PostgreSQL URLs only and never shown; the git archive and
retention work with it."""

from __future__ import annotations

import pytest
from agentmail_server.config import ServerConfig, resolve_config
from agentmail_server.config_file import render_settings

URL = "postgresql://agentmail:pw-7731@db.internal:5432/agentmail"


def test_no_url_keeps_the_embedded_sqlite_database() -> None:
    assert not ServerConfig().uses_postgres


def test_a_postgresql_url_selects_postgres() -> None:
    config = ServerConfig(database_url=URL, archive=False)
    assert config.uses_postgres
    assert "pw-7731" not in repr(config)


@pytest.mark.parametrize("url", ["sqlite:///x.db", "mysql://db/x", "db.internal:5432"])
def test_a_url_of_another_kind_is_refused_without_repeating_it(url: str) -> None:
    with pytest.raises(ValueError, match="must be a PostgreSQL URL") as failure:
        ServerConfig(database_url=url, archive=False)
    assert url not in str(failure.value)


def test_the_archive_and_retention_are_accepted_with_a_url() -> None:
    config = ServerConfig(database_url=URL, retention_days=7)
    assert config.archive and config.retention_days == 7


def test_the_environment_sets_it_and_print_config_hides_it() -> None:
    resolved = resolve_config([], {"AGENTMAIL_DATABASE_URL": URL, "AGENTMAIL_ARCHIVE": "false"})
    assert resolved.config.database_url == URL
    assert resolved.sources["database_url"] == "environment"
    shown = render_settings({"database_url": URL}, resolved.sources)
    assert "pw-7731" not in shown and "<redacted>" in shown
