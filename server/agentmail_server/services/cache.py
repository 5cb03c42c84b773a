"""A bounded LRU map. When full, the least recently used entry is dropped."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """A snapshot of one cache."""

    size: int
    capacity: int
    hits: int
    misses: int
    evictions: int


class LruCache(Generic[K, V]):
    """Least-recently-used cache of at most ``capacity`` entries.

    Mostly used for facts that never change once written (slug -> project, name -> agent
    id); eviction only costs a database read later. Facts that can change (token hash ->
    holder) are dropped by their writer with :meth:`discard_if` after the change commits.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._capacity = capacity
        self._data: collections.OrderedDict[K, V] = collections.OrderedDict()
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def get(self, key: K) -> V | None:
        """The cached value, marking it recently used; None on a miss."""
        value = self._data.get(key)
        if value is None:
            self._misses += 1
            return None
        self._hits += 1
        self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Cache ``value``, evicting the least recently used entry when full."""
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._capacity:
            self._data.popitem(last=False)
            self._evictions += 1

    def peek(self, key: K) -> V | None:
        """The cached value without marking it used or counting a hit or miss (for callers
        that only look, such as the rate limiter naming the caller)."""
        return self._data.get(key)

    def discard_if(self, predicate: Callable[[K, V], bool]) -> int:
        """Drop every entry ``predicate`` holds for; returns how many. Walks the whole cache:
        for rare writes (a token rotated or revoked), not for a request's hot path."""
        doomed = [key for key, value in self._data.items() if predicate(key, value)]
        for key in doomed:
            del self._data[key]
        return len(doomed)

    def stats(self) -> CacheStats:
        """A snapshot of size and hit counts."""
        return CacheStats(
            len(self._data), self._capacity, self._hits, self._misses, self._evictions
        )
