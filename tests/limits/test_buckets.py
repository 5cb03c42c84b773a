"""Unit tests of the token buckets, the flood guard's bookkeeping and peer addresses, on a
clock the test moves."""

from __future__ import annotations

import pytest
from agentmail_server.errors import ResourceExhausted
from agentmail_server.limits.buckets import Buckets
from agentmail_server.limits.flood_guard import FloodGuard
from agentmail_server.rpc.admission import peer_address


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_admits_the_burst_then_says_how_long_until_the_next_token() -> None:
    clock = Clock()
    buckets = Buckets(rate=10.0, burst=3, capacity=10, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("a")
    assert wait == pytest.approx(0.1)
    assert buckets.take("a") == pytest.approx(0.1), "a refused call takes nothing"
    clock.now += 0.05
    assert buckets.take("a") == pytest.approx(0.05)
    clock.now += 0.05
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.1)


def test_an_idle_subject_refills_to_the_burst_and_no_further() -> None:
    clock = Clock()
    buckets = Buckets(rate=2.0, burst=2, capacity=10, clock=clock)
    buckets.take("a")
    buckets.take("a")
    clock.now += 3600
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_subjects_have_buckets_of_their_own() -> None:
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=1, capacity=10, clock=clock)
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_available_looks_without_taking_and_give_back_returns_a_token() -> None:
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=2, capacity=10, clock=clock)
    assert buckets.available("a") == 0.0
    buckets.take("a")
    buckets.take("a")
    assert buckets.available("a") == pytest.approx(1.0)
    buckets.give_back("a")
    assert buckets.available("a") == 0.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(1.0)


def test_the_table_keeps_at_most_capacity_subjects_dropping_the_least_recently_used() -> None:
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=1, capacity=3, clock=clock)
    for subject in ("a", "b", "c"):
        buckets.take(subject)
    clock.now += 0.5
    assert buckets.take("a") > 0  # refused: does not count as use, "a" stays the oldest
    buckets.take("d")
    assert len(buckets) == 3
    assert "a" not in buckets and {"b", "c", "d"} <= {s for s in "abcd" if s in buckets}
    # Forgotten, "a" starts again with a full bucket.
    assert buckets.take("a") == 0.0
    assert "b" not in buckets
    for many in range(10_000):
        buckets.take(many)
    assert len(buckets) == 3


def test_a_used_subject_is_kept_over_older_ones() -> None:
    clock = Clock()
    buckets = Buckets(rate=100.0, burst=10, capacity=2, clock=clock)
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")  # now "b" is the least recently used
    buckets.take("c")
    assert "a" in buckets and "c" in buckets and "b" not in buckets


@pytest.mark.parametrize(
    ("rate", "burst", "capacity"), [(0.0, 1, 1), (-1.0, 1, 1), (1.0, 0, 1), (1.0, 1, 0)]
)
def test_nonsense_limits_are_refused(rate: float, burst: int, capacity: int) -> None:
    with pytest.raises(ValueError):
        Buckets(rate, burst, capacity, Clock())


def test_the_flood_guard_charges_every_recipient_or_none() -> None:
    clock = Clock()
    guard = FloodGuard(per_minute=2, capacity=100, clock=clock)
    guard.take(1, [(2, "Bob")])
    guard.take(1, [(2, "Bob")])
    with pytest.raises(ResourceExhausted) as refused:
        guard.take(1, [(3, "Carol"), (2, "Bob")])
    assert refused.value.reason == "FLOOD_GUARD"
    assert refused.value.metadata["recipient"] == "Bob"
    assert refused.value.retry_after_seconds == pytest.approx(30.0)
    # Carol's token was given back with the refusal: two more fit.
    guard.take(1, [(3, "Carol")])
    guard.take(1, [(3, "Carol")])
    # Pairs are directed: Bob may still write to the sender.
    guard.take(2, [(1, "Alice")])
    charged = guard.take(1, [(4, "Dan")])
    guard.give_back(charged)
    guard.take(1, [(4, "Dan")])
    guard.take(1, [(4, "Dan")])
    clock.now += 30
    guard.take(1, [(2, "Bob")])


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.0.0.7:51234", "ipv4:10.0.0.7"),
        ("ipv6:[::1]:5123", "ipv6:[::1]"),
        ("ipv6:[2001:db8::1]:443", "ipv6:[2001:db8::1]"),
        ("unix:/run/agentmail.sock", "unix:/run/agentmail.sock"),
        ("unix:", "unix:"),
    ],
)
def test_a_peer_is_its_address_without_the_port(peer: str, address: str) -> None:
    assert peer_address(peer) == address


def test_taking_several_tokens_may_leave_a_debt_that_later_calls_wait_out() -> None:
    clock = Clock()
    buckets = Buckets(rate=10, burst=5, capacity=10, clock=clock)
    assert buckets.take("a", 12) == 0.0  # a full bucket admits any count
    # 12 taken from 5: 7 tokens (0.7 s) in debt, plus 0.1 s for the next one.
    assert buckets.take("a") == pytest.approx(0.8)
    assert buckets.available("b") == 0.0  # others are not affected
    clock.now += 0.8
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.1)
