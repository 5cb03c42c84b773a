"""The archive's settings and its stats snapshot (read by the metrics collector)."""

from __future__ import annotations

import dataclasses
import pathlib

# Histogram bounds of commit durations: 1 ms .. 16.4 s, factor 2.
COMMIT_SECONDS_BOUNDS: tuple[float, ...] = tuple(0.001 * 2**i for i in range(15))


@dataclasses.dataclass(frozen=True)
class ArchiveSettings:
    """Where and how the archive is written.

    Attributes:
        repository: the bare git repository (created if absent).
        branch: the branch commits go to.
        author_name: author and committer name of archive commits.
        author_email: author and committer email.
        max_batch: most messages (and, separately, agent changes) in one commit.
        interval_seconds: least time between the starts of two commits.
    """

    repository: pathlib.Path
    branch: str = "main"
    author_name: str = "agentmail"
    author_email: str = "agentmail@localhost"
    max_batch: int = 2000
    interval_seconds: float = 1.0


@dataclasses.dataclass(frozen=True)
class ArchiveStats:
    """A snapshot of the archive projector.

    Attributes:
        archived_message_id: the last message id in the archive.
        committed_message_id: the newest message id the database has committed.
        lag_messages: committed messages not archived yet.
        lag_seconds: age of the oldest message not archived yet (0 when caught up).
        archived_agent_revision: the last agent revision in the archive.
        commits: archive commits written since start.
        archived_messages: messages written since start.
        archived_agents: agent profiles written since start.
        failures: archive steps that failed (and were retried).
        worker_restarts: times the archive worker process died and was restarted.
        last_batch_messages: messages in the latest commit.
        last_commit_seconds: how long the latest step took (read, render, write, fsync).
        pack_files: pack files in the repository.
        pack_bytes: the size of those pack files (with their indexes), in bytes.
        commit_seconds_bounds: histogram bounds of step durations.
        commit_seconds_counts: counts per bucket (not cumulative), one more than the bounds.
        commit_seconds_sum: total seconds of all steps.
        archived_reservation_revision: the last reservation revision in the archive.
        leader: whether this process's worker writes the archive (on a shared database, one
            process does; the others stand by and report no lag).
    """

    archived_message_id: int
    committed_message_id: int
    lag_messages: int
    lag_seconds: float
    archived_agent_revision: int
    commits: int
    archived_messages: int
    archived_agents: int
    failures: int
    worker_restarts: int
    last_batch_messages: int
    last_commit_seconds: float
    pack_files: int
    pack_bytes: int = 0
    commit_seconds_bounds: tuple[float, ...] = COMMIT_SECONDS_BOUNDS
    commit_seconds_counts: tuple[int, ...] = ()
    commit_seconds_sum: float = 0.0
    archived_reservation_revision: int = 0
    leader: bool = True
