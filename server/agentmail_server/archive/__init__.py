"""The git archive: every message and agent profile in a human-readable git repository.

Two parts. :mod:`agentmail_server.archive.git` is the git engine: a branch of a bare
repository written commit by commit, with its own trees and pack files; it knows nothing of
mail, and the rest of this package uses only its public names. Beside it is the projection of
mail onto that engine, in layers, each importing only those above it:

- ``_layout`` and ``_commits`` (pure): where each record lives, what its file says, and the
  commit messages, whose trailers record the archived position.
- ``_source``: reading committed records from the database after a position (SQLite), and
  ``_pg_source`` the same on PostgreSQL, with the election of the one process that writes;
  ``_database`` chooses between them.
- ``_batches``: one archive step, a batch of records rendered and committed.
- ``_settings``: the archive's settings and stats.
- ``_worker``: the child process that writes the archive, and ``_projector``, which runs it
  for the server.
- ``_maintenance``: rebuild and verify, used by :mod:`agentmail_server.archive.cli`.
"""

from agentmail_server.archive._commits import Position
from agentmail_server.archive._database import ArchiveDatabase
from agentmail_server.archive._maintenance import (
    RebuildReport,
    VerifyReport,
    archived_position,
    rebuild,
    verify,
)
from agentmail_server.archive._projector import ArchiveProjector
from agentmail_server.archive._settings import ArchiveSettings, ArchiveStats

__all__ = [
    "ArchiveDatabase",
    "ArchiveProjector",
    "ArchiveSettings",
    "ArchiveStats",
    "Position",
    "RebuildReport",
    "VerifyReport",
    "archived_position",
    "rebuild",
    "verify",
]
