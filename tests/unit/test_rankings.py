"""Frozen search rankings: bound to owner and query, bounded in count and age."""

from __future__ import annotations

from agentmail_server.services.rankings import RankingCache


def test_ranking_is_returned_only_to_its_owner_and_query() -> None:
    cache = RankingCache(capacity=4, ttl_seconds=60)
    key = cache.put(owner=1, fingerprint=("q", 1), ids=[5, 3, 9])
    assert list(cache.get(key, 1, ("q", 1)) or []) == [5, 3, 9]
    assert cache.get(key, 2, ("q", 1)) is None
    assert cache.get(key, 1, ("other", 1)) is None
    assert cache.get(key + 1, 1, ("q", 1)) is None


def test_least_recently_used_ranking_is_evicted_when_full() -> None:
    cache = RankingCache(capacity=2, ttl_seconds=60)
    first = cache.put(1, "a", [1])
    second = cache.put(1, "b", [2])
    assert cache.get(first, 1, "a") is not None  # first is now the most recently used
    cache.put(1, "c", [3])
    assert cache.get(second, 1, "b") is None
    assert cache.get(first, 1, "a") is not None
    stats = cache.stats()
    assert (stats.entries, stats.evictions, stats.ids) == (2, 1, 2)


def test_expired_ranking_is_dropped() -> None:
    cache = RankingCache(capacity=2, ttl_seconds=-1)
    key = cache.put(1, "a", [1, 2])
    assert cache.get(key, 1, "a") is None
    assert cache.stats().expirations == 1
