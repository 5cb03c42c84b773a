"""The unreleased reservations of recently checked projects, kept between conflict checks.

Every conflict check needs all active reservations of its project; loading a thousand rows
costs several milliseconds, while the rows rarely change between two checks. Every change to
any reservation takes the next server-wide ``revision`` (see the schema), so a snapshot whose
highest revision is R holds exactly the same reservations as any other snapshot at R: a
project's holds read at revision R stay right for as long as the highest revision is still R,
which one seek on the unique revision index tells. Expiry needs no invalidation: the holds are
kept whether expired or not, and each check keeps those whose expiry is after its ``now``.

Only committed snapshots may fill it: the read pool's. The writer must not: a revision it
reads inside a transaction that then fails is never committed, and a later commit takes the
same number for other content.

Bounded: the least recently used project is dropped past ``MAX_PROJECTS``. Used from the event
loop only: it takes no lock.
"""

from __future__ import annotations

import collections
import dataclasses

from agentmail_server.domain.reservations import Hold

MAX_PROJECTS = 64
# The newest revision: one seek on the unique index reservations_by_revision.
NEWEST_REVISION = "SELECT coalesce(max(revision), 0) FROM reservations"
# A project's unreleased reservations with the newest revision, in one statement (one
# snapshot); a project with none gives one row of NULLs after the revision.
UNRELEASED_HOLDS = (
    "SELECT v.revision, r.id, r.agent_id, a.name, r.pattern, r.exclusive, r.expires_at"
    " FROM (SELECT coalesce(max(revision), 0) AS revision FROM reservations) v"
    # Without the hint the planner takes (project_id, id), which walks released history too.
    " LEFT JOIN reservations r INDEXED BY reservations_active"
    " ON r.project_id = ? AND r.released_at IS NULL"
    " LEFT JOIN agents a ON a.id = r.agent_id"
)


@dataclasses.dataclass(frozen=True, slots=True)
class HoldCacheStats:
    """How often checks found their project's holds here."""

    projects: int
    hits: int
    misses: int


class HoldCache:
    """Unreleased holds by project, valid at one revision."""

    def __init__(self, max_projects: int = MAX_PROJECTS) -> None:
        self._max = max_projects
        self._entries: collections.OrderedDict[int, tuple[int, tuple[Hold, ...]]] = (
            collections.OrderedDict()
        )
        self._hits = 0
        self._misses = 0

    def get(self, project_id: int, revision: int) -> tuple[Hold, ...] | None:
        """The project's unreleased holds if they were read at ``revision``, else None."""
        entry = self._entries.get(project_id)
        if entry is None or entry[0] != revision:
            self._misses += 1
            return None
        self._entries.move_to_end(project_id)
        self._hits += 1
        return entry[1]

    def put(self, project_id: int, revision: int, holds: tuple[Hold, ...]) -> None:
        """Keep ``holds``, read at ``revision``, for the project."""
        self._entries[project_id] = (revision, holds)
        self._entries.move_to_end(project_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def stats(self) -> HoldCacheStats:
        """A snapshot of the counters."""
        return HoldCacheStats(len(self._entries), self._hits, self._misses)


def active(holds: tuple[Hold, ...], now: int) -> list[Hold]:
    """The holds whose expiry is after ``now``."""
    return [hold for hold in holds if hold.expires_at > now]
