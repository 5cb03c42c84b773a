"""File reservations: the records, what a request asks for, and the conflict rule. Pure.

A reservation is *active* while it is not released and its expiry is in the future: expiry
holds by time at every read and every conflict check (:meth:`Reservation.active_at`); the
background sweep that later records expired reservations as released only writes down what
time had already decided.

Conflict rule: another agent's active reservation conflicts with a requested pattern when the
two patterns overlap and at least one side is exclusive. Overlap is decided by
:mod:`agentmail_server.domain.reservation_patterns` on compiled patterns; compiling is cached
by text in a bounded LRU, since a project's active patterns are checked again on every
request.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Sequence

from agentmail_server.domain import reservation_patterns as patterns
from agentmail_server.domain.notices import Notice, ReservationNotice, ReservationNoticeKind

DEFAULT_TTL_SECONDS = 3600
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 30 * 24 * 3600
DEFAULT_EXTEND_SECONDS = 1800
MAX_PATTERNS_PER_RESERVE = 256
MAX_PATHS_PER_CHECK = 500
MAX_REASON_CHARS = 512
# CheckConflicts' output bounds: conflicts listed, and holders listed per conflict.
MAX_CONFLICTS = 100
MAX_HOLDERS_PER_CONFLICT = 20
# Compiled patterns kept: a few projects' active reservations and their requests.
PATTERN_CACHE_SIZE = 8192
EXPIRED_REASON = "expired"


class ReserveMode(enum.IntEnum):
    """How ReservePaths treats conflicts; values match the wire enum."""

    DEFAULT = 1
    ALL_OR_NOTHING = 2
    ADVISORY = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Reservation:
    """One agent's lease on a pattern, as stored.

    ``released_by`` is the releasing agent's name (empty when it expired); ``updated_at`` is
    the last time its holder granted, extended or renewed it (a version for force-release).
    """

    id: int
    project_id: int
    agent_id: int
    agent_name: str
    pattern: str
    exclusive: bool
    reason: str
    created_at: int
    updated_at: int
    expires_at: int
    released_at: int | None = None
    released_by: str = ""
    release_reason: str = ""

    def active_at(self, now: int) -> bool:
        """Whether it holds at ``now``: not released and not expired."""
        return self.released_at is None and self.expires_at > now


@dataclasses.dataclass(frozen=True, slots=True)
class Hold:
    """What a conflict check needs of an active reservation: who holds which pattern, how,
    until when. Read for every active reservation of a project on each check, so it carries
    nothing more (a full :class:`Reservation` row costs several times as much to load)."""

    id: int
    agent_id: int
    agent_name: str
    pattern: str
    exclusive: bool
    expires_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class Holder:
    """Another agent's reservation that conflicts with a requested pattern."""

    reservation_id: int
    agent_name: str
    pattern: str
    exclusive: bool
    expires_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class Conflict:
    """A requested pattern and the reservations it conflicts with, oldest first."""

    pattern: str
    holders: tuple[Holder, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class ReserveRequest:
    """A validated ReservePaths: normalised, de-duplicated patterns, in the order requested."""

    project_id: int
    agent_id: int
    agent_name: str
    patterns: tuple[str, ...]
    exclusive: bool
    ttl_micros: int
    reason: str
    mode: ReserveMode
    idempotency_key: str = ""
    # Digest of the request, stored with the key: a repeat of the key must match it.
    digest: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Reserved:
    """What ReservePaths did: the reservations granted and the conflicts found.

    ``notices`` tell each holder whose reservation a conflict hit (once per reservation);
    ``deduplicated`` marks the stored result of a repeated key (which tells nobody again).
    """

    granted: tuple[Reservation, ...]
    conflicts: tuple[Conflict, ...]
    deduplicated: bool = False
    notices: tuple[Notice, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Selection:
    """Which of an agent's reservations a renew or release means: by ids, by patterns, or
    (``everything``) all of its active ones. Exactly one is set."""

    ids: tuple[int, ...] = ()
    patterns: tuple[str, ...] = ()
    everything: bool = False


@functools.lru_cache(maxsize=PATTERN_CACHE_SIZE)
def compiled(text: str) -> patterns.Pattern:
    """The compiled form of a normalised pattern (cached by text, bounded)."""
    return patterns.compile_pattern(text)


def overlap(a: str, b: str) -> bool:
    """Whether two normalised patterns can name a common path (resources: only when equal)."""
    return a == b or patterns.overlaps(compiled(a), compiled(b))


def path_matches(reserved: str, path: str) -> bool:
    """Whether the normalised ``path`` falls under the reserved pattern."""
    return reserved == path or patterns.matches_path(compiled(reserved), path)


# The group of a compiled pattern in a conflict check: resources by their name, path patterns
# by their first literal folder (None when it is a glob, or the pattern is unanchored).
_GroupKey = tuple[bool, str | None]


def _group(pattern: patterns.Pattern) -> _GroupKey:
    return (True, pattern.text) if pattern.resource else (False, pattern.root)


def stored_group(text: str) -> str:
    """The group of a normalised pattern as storage keeps it beside the pattern: a resource's
    name, a path pattern's literal first folder, or "" for a path pattern without one (which
    may overlap any path pattern). Two patterns whose stored groups are both non-empty and
    differ never overlap."""
    form = compiled(text)
    return form.text if form.resource else form.root or ""


def groups_to_load(requested: Sequence[str]) -> list[str] | None:
    """The stored groups a conflict check of ``requested`` must read: each pattern's own and
    "" (the floating patterns); None when every group is needed (a floating request)."""
    wanted = {stored_group(text) for text in requested}
    if "" in wanted:
        return None
    return sorted(wanted | {""})


def _others_by_group(
    active: Sequence[Hold], agent_id: int, with_shared: bool
) -> dict[_GroupKey, list[tuple[Hold, patterns.Pattern]]]:
    """Other agents' reservations that can conflict, compiled and grouped by first folder
    (or resource name): exclusive ones, and shared ones too when ``with_shared`` (an
    exclusive request meets them)."""
    groups: dict[_GroupKey, list[tuple[Hold, patterns.Pattern]]] = {}
    for held in active:
        if held.agent_id != agent_id and (with_shared or held.exclusive):
            form = compiled(held.pattern)
            groups.setdefault(_group(form), []).append((held, form))
    return groups


def find_conflicts(
    requested: Sequence[str],
    exclusive: bool,
    agent_id: int,
    active: Sequence[Hold],
) -> dict[str, list[Hold]]:
    """Each requested pattern that conflicts, with its conflicting reservations (oldest
    first), in the order requested. ``active`` must hold only active reservations.

    Two path patterns whose first folders are both literal and differ never overlap (the
    first test :func:`reservation_patterns.common_path` makes), so the candidates are grouped
    by first folder once and each requested pattern is tested against its own group and the
    patterns without a literal first folder only: with reservations spread over a project's
    top-level folders, a request tests a fraction of them.
    """
    groups = _others_by_group(active, agent_id, exclusive)
    floating = groups.get((False, None), [])
    found: dict[str, list[Hold]] = {}
    for pattern in requested:
        wanted = compiled(pattern)
        key = _group(wanted)
        if wanted.resource:
            candidates = groups.get(key, [])
        elif wanted.root is None:
            candidates = [pair for k, group in groups.items() if not k[0] for pair in group]
        else:
            candidates = groups.get(key, []) + floating
        hits = [held for held, form in candidates if patterns.overlaps(wanted, form)]
        if hits:
            found[pattern] = sorted(hits, key=lambda held: held.id)
    return found


def find_path_conflicts(
    paths: Sequence[str],
    include_shared: bool,
    agent_id: int,
    active: Sequence[Hold],
) -> dict[str, list[Hold]]:
    """Each real path (normalised by ``normalize_path``) that another agent's active
    reservation covers, with those reservations (oldest first), in the order given: exclusive
    reservations, and shared ones too when ``include_shared``.

    Paths are files as staged for a commit, not patterns: a reservation covers one when its
    pattern matches it or a directory above it (gitignore's reading, ``matches_path``), so a
    root file ``README`` is not held by ``src/**``, which a pattern-against-pattern check would
    say (``README`` as a pattern matches at any depth). Grouped by first folder as in
    :func:`find_conflicts`: an anchored pattern whose literal first folder differs from the
    path's cannot match it.
    """
    groups = _others_by_group(active, agent_id, include_shared)
    floating = groups.get((False, None), [])
    found: dict[str, list[Hold]] = {}
    for path in paths:
        if patterns.is_resource(path):
            candidates = groups.get((True, path), [])
        else:
            candidates = groups.get((False, path.split("/", 1)[0]), []) + floating
        hits = [held for held, form in candidates if patterns.matches_path(form, path)]
        if hits:
            found[path] = sorted(hits, key=lambda held: held.id)
    return found


def notice(
    kind: ReservationNoticeKind, reservation: Reservation | Hold, other_agent: str, reason: str
) -> ReservationNotice:
    """The event telling a reservation's holder what happened to it."""
    return ReservationNotice(
        kind=kind,
        reservation_id=reservation.id,
        pattern=reservation.pattern,
        exclusive=reservation.exclusive,
        expires_at=reservation.expires_at,
        other_agent=other_agent,
        reason=reason,
    )


def holder(reservation: Reservation | Hold) -> Holder:
    """The conflict view of a reservation."""
    return Holder(
        reservation_id=reservation.id,
        agent_name=reservation.agent_name,
        pattern=reservation.pattern,
        exclusive=reservation.exclusive,
        expires_at=reservation.expires_at,
    )


def bounded_conflicts(
    found: dict[str, list[Hold]],
    max_conflicts: int = MAX_CONFLICTS,
    max_holders: int = MAX_HOLDERS_PER_CONFLICT,
) -> tuple[tuple[Conflict, ...], bool]:
    """The conflicts within the output bounds, and whether anything was left out."""
    truncated = len(found) > max_conflicts
    conflicts = []
    for pattern, hits in list(found.items())[:max_conflicts]:
        truncated = truncated or len(hits) > max_holders
        conflicts.append(Conflict(pattern, tuple(holder(h) for h in hits[:max_holders])))
    return tuple(conflicts), truncated
