"""Validation and behaviour of the client's configuration value objects."""

import dataclasses
import pathlib

import grpc
import pytest
from agentmail_client import AgentmailClient, ChannelConfig, RetryPolicy, Timeouts, TlsConfig


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
    # The server accepts pings every 30 s or slower (tests/security/test_keepalive.py).
    assert options["grpc.keepalive_time_ms"] == 60_000
    assert options["grpc.keepalive_timeout_ms"] == 20_000
    assert options["grpc.keepalive_permit_without_calls"] == 1
    assert options["grpc.http2.max_pings_without_data"] == 0


def test_config_objects_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryPolicy().max_attempts = 9  # type: ignore[misc]


def test_tls_needs_the_client_certificate_and_key_together() -> None:
    with pytest.raises(ValueError, match="client_certificate and client_key go together"):
        TlsConfig(client_certificate=b"cert")
    with pytest.raises(ValueError, match="client_certificate and client_key go together"):
        TlsConfig(client_key="key.pem")


def test_tls_refuses_pem_text_given_as_a_path_without_echoing_it() -> None:
    secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"
    tls = TlsConfig(client_certificate=b"cert", client_key=secret)

    with pytest.raises(ValueError) as refused:
        tls.channel_credentials()

    assert "pass PEM content as bytes" in str(refused.value)
    assert "c2VjcmV0" not in str(refused.value)


def test_tls_names_a_file_it_cannot_read(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "ca.pem"

    with pytest.raises(ValueError, match=f"root_certificates: cannot read {missing}"):
        AgentmailClient("127.0.0.1:1", channel=ChannelConfig(tls=TlsConfig(missing)))


def test_tls_server_name_override_becomes_a_channel_option() -> None:
    named = ChannelConfig(tls=TlsConfig(server_name_override="agentmail.test"))
    plain = ChannelConfig(tls=TlsConfig())

    assert dict(named.options())["grpc.ssl_target_name_override"] == "agentmail.test"
    assert "grpc.ssl_target_name_override" not in dict(plain.options())
    assert "grpc.ssl_target_name_override" not in dict(ChannelConfig().options())


def test_tls_settings_and_ready_made_credentials_are_exclusive() -> None:
    with pytest.raises(ValueError, match="give TLS as channel=ChannelConfig"):
        AgentmailClient(
            "127.0.0.1:1",
            channel=ChannelConfig(tls=TlsConfig()),
            credentials=grpc.ssl_channel_credentials(),
        )
