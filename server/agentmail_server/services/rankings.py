"""Frozen search rankings, so that relevance pages stay stable while new mail arrives.

Bounded two ways: at most ``capacity`` rankings (least recently used dropped first) and each
for at most ``ttl_seconds``. A page token whose ranking was dropped fails with
INVALID_PAGE_TOKEN ("search again") rather than silently re-ranking and shifting results.
Rankings are stored as compact arrays: 8 bytes an id and 8 its score.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import secrets
import time
from collections.abc import Hashable, Sequence


@dataclasses.dataclass(frozen=True)
class RankingCacheStats:
    """A snapshot of the cache."""

    entries: int
    capacity: int
    ids: int
    evictions: int
    expirations: int


@dataclasses.dataclass(frozen=True)
class _Entry:
    owner: int
    fingerprint: Hashable
    ids: array.array[int]
    scores: array.array[float]
    expires_at: float


class RankingCache:
    """Rankings by random key, each bound to the agent and the query that made it."""

    def __init__(self, capacity: int, ttl_seconds: float) -> None:
        self._capacity = capacity
        self._ttl = ttl_seconds
        self._entries: collections.OrderedDict[int, _Entry] = collections.OrderedDict()
        self._evictions = 0
        self._expirations = 0

    def put(
        self,
        owner: int,
        fingerprint: Hashable,
        ids: Sequence[int],
        scores: Sequence[float] = (),
    ) -> int:
        """Keep a ranking (ids best first, and their scores if any); returns the key to put
        in the page token (never 0)."""
        key = secrets.randbits(62) + 1
        self._entries[key] = _Entry(
            owner,
            fingerprint,
            array.array("q", ids),
            array.array("d", scores),
            time.monotonic() + self._ttl,
        )
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
            self._evictions += 1
        return key

    def get(self, key: int, owner: int, fingerprint: Hashable) -> Sequence[int] | None:
        """The ranking under ``key`` if it exists, is fresh, and belongs to this agent and query."""
        found = self.get_scored(key, owner, fingerprint)
        return None if found is None else found[0]

    def get_scored(
        self, key: int, owner: int, fingerprint: Hashable
    ) -> tuple[Sequence[int], Sequence[float]] | None:
        """Like :meth:`get`, with the scores kept beside the ids."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at < time.monotonic():
            del self._entries[key]
            self._expirations += 1
            return None
        if entry.owner != owner or entry.fingerprint != fingerprint:
            return None
        self._entries.move_to_end(key)
        return entry.ids, entry.scores

    def stats(self) -> RankingCacheStats:
        """A snapshot of size and drop counters."""
        return RankingCacheStats(
            entries=len(self._entries),
            capacity=self._capacity,
            ids=sum(len(e.ids) for e in self._entries.values()),
            evictions=self._evictions,
            expirations=self._expirations,
        )
