"""Units of identity: the enrollment check, and dropping one agent's cached tokens."""

from __future__ import annotations

from agentmail_server.services.cache import LruCache
from agentmail_server.services.enrollment import Enrollment


def test_enrollment_without_a_secret_lets_anyone_enroll() -> None:
    assert Enrollment("").problem(None) is None
    assert Enrollment("").problem("anything") is None


def test_enrollment_tells_a_missing_secret_from_a_wrong_one() -> None:
    enrollment = Enrollment("right")
    missing, wrong = enrollment.problem(None), enrollment.problem("wrong")
    assert missing is not None and missing.reason == "ENROLLMENT_REQUIRED"
    assert wrong is not None and wrong.reason == "ENROLLMENT_INVALID"
    assert enrollment.problem("right") is None
    # Neither message repeats what was presented or expected.
    assert "right" not in str(missing) + str(wrong) and "wrong" not in str(wrong)


def test_discard_if_drops_only_the_matching_entries() -> None:
    cache: LruCache[str, int] = LruCache(10)
    for key, agent in (("a", 1), ("b", 2), ("c", 1)):
        cache.put(key, agent)
    assert cache.discard_if(lambda _, agent: agent == 1) == 2
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, None)
