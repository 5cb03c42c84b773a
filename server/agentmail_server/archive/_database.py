"""Which database the archive follows, and the one factory that opens its source.

The worker, the projector and the maintenance commands hold an :class:`ArchiveDatabase` and
call :meth:`ArchiveDatabase.open`; they never ask which backend it is. The PostgreSQL URL may
carry a password, so it never reaches a command line (``ps`` shows every process's argv) nor a
repr: the worker gets it through its environment (:meth:`ArchiveDatabase.environment`).
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping
from typing import Any

from agentmail_server.archive._pg_source import PostgresSource
from agentmail_server.archive._source import ArchiveSource

# The variable that carries the URL to the worker: the server's own, so nothing new to know.
URL_VARIABLE = "AGENTMAIL_DATABASE_URL"


@dataclasses.dataclass(frozen=True)
class ArchiveDatabase:
    """The database the archive follows.

    Attributes:
        path: the SQLite database file (used when ``url`` is empty).
        url: a PostgreSQL URL (``postgresql://…``), or empty for the SQLite file.
    """

    path: pathlib.Path
    url: str = dataclasses.field(default="", repr=False)

    def open(self, label: str = "agentmail-archive") -> ArchiveSource:
        """A read-only source over this database (a new connection); ``label`` names the
        connection on PostgreSQL (its ``application_name``).

        Raises:
            SourceUnavailable: PostgreSQL cannot be reached (a RuntimeError).
            sqlite3.Error: the SQLite file cannot be opened.
        """
        if self.url:
            return PostgresSource(self.url, label)
        return ArchiveSource(self.path)

    def wire(self) -> dict[str, Any]:
        """What the worker's command line says of the database: never the URL."""
        return {"path": str(self.path), "postgres": bool(self.url)}

    def environment(self) -> dict[str, str]:
        """Variables to add to the worker's environment (the URL, when there is one)."""
        return {URL_VARIABLE: self.url} if self.url else {}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any], environ: Mapping[str, str]) -> ArchiveDatabase:
        """The database described by :meth:`wire` and :meth:`environment`.

        Raises:
            RuntimeError: the worker should read PostgreSQL but was given no URL.
        """
        url = environ.get(URL_VARIABLE, "") if wire["postgres"] else ""
        if wire["postgres"] and not url:
            raise RuntimeError(f"the archive worker needs {URL_VARIABLE} for PostgreSQL")
        return cls(pathlib.Path(wire["path"]), url)
