"""Validation and behaviour of the client's configuration value objects."""

import dataclasses

import pytest
from agentmail_client import ChannelConfig, RetryPolicy, Timeouts


def test_backoff_stays_within_the_growing_bound() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0, multiplier=2.0)
    for retry, bound in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (10, 1.0)]:
        delays = [policy.backoff(retry) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in delays)
        # Full jitter: the delays spread out rather than repeat one value.
        assert len(set(delays)) > 100


def test_backoff_honours_the_server_retry_delay_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_backoff=0.01, max_backoff=2.0)
    assert policy.backoff(0, retry_after=1.5) >= 1.5
    assert policy.backoff(0, retry_after=60.0) == 2.0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"initial_backoff": -1.0}, {"max_backoff": -1.0}, {"multiplier": 0.5}],
)
def test_retry_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_timeouts_reject_non_positive_values() -> None:
    with pytest.raises(ValueError):
        Timeouts(read=0)
    assert Timeouts(read=None, write=None).read is None


def test_channel_options_raise_message_limits_and_ping_gently() -> None:
    options = dict(ChannelConfig().options())
    assert options["grpc.max_send_message_length"] == 64 * 1024 * 1024
    assert options["grpc.max_receive_message_length"] == 64 * 1024 * 1024
    # The server refuses pings more often than every 10 s without data.
    assert options["grpc.keepalive_time_ms"] == 30_000
    assert options["grpc.keepalive_timeout_ms"] == 10_000
    assert options["grpc.keepalive_permit_without_calls"] == 1


def test_config_objects_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryPolicy().max_attempts = 9  # type: ignore[misc]
