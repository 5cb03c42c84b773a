"""The git archive: every message and agent profile in a human-readable git repository.

Layers, each importing only those above it: ``_layout`` and ``_commits`` (pure: paths, file
contents, commit messages), ``_packs`` and ``_gitstore`` (pygit2 objects, trees, pack files and
the branch), ``_source`` (reading committed records by cursor), ``_batches`` (one archive
step), ``_settings``, ``_worker`` (the process that writes the archive) and ``_projector``
(which runs it for the server), and ``_maintenance`` (rebuild and verify, used by
:mod:`agentmail_server.archive.cli`).
"""

from agentmail_server.archive._maintenance import RebuildReport, VerifyReport, rebuild, verify
from agentmail_server.archive._projector import ArchiveProjector
from agentmail_server.archive._settings import ArchiveSettings, ArchiveStats

__all__ = [
    "ArchiveProjector",
    "ArchiveSettings",
    "ArchiveStats",
    "RebuildReport",
    "VerifyReport",
    "rebuild",
    "verify",
]
