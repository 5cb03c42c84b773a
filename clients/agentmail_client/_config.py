"""Small immutable value objects that configure an :class:`~agentmail_client.AgentmailClient`.

Each is validated in its constructor so that a bad setting fails where it is written, not on the
first call that happens to use it.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import random

import grpc

_MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How idempotent calls are retried after a transient failure.

    Only calls that are safe to repeat are ever retried (reads, ``EnsureProject``, ``MarkRead``,
    ``AcknowledgeMessage``, contact and lifecycle calls, and sends that carry an idempotency
    key), plus any call the server refused with ``RATE_LIMITED`` (refused before it ran, so
    nothing happened). The delay before retry ``n`` (counting from 0) is drawn uniformly from
    ``[0, min(max_backoff, initial_backoff * multiplier ** n)]`` ("full jitter", so that many
    clients failing together do not retry in lockstep), but never less than the server's
    ``RetryInfo`` delay. A ``RESOURCE_EXHAUSTED`` whose ``RetryInfo`` delay is longer than
    ``max_backoff`` (a rate limit or flood guard far from refilling) is raised at once rather
    than retried early, so the caller sees the real wait in ``retry_after``.

    Attributes:
        max_attempts: Total attempts including the first; ``RetryPolicy(max_attempts=1)``
            disables retries.
        initial_backoff: Upper bound of the first delay, in seconds.
        max_backoff: Upper bound of any delay, in seconds.
        multiplier: Growth factor of the delay bound per attempt.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff delays must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def backoff(self, retry: int, retry_after: float | None = None) -> float:
        """Returns the delay in seconds before retry number ``retry`` (0 for the first retry).

        Args:
            retry: How many retries were made before this one.
            retry_after: The delay the server asked for in ``RetryInfo``, if any.
        """
        bound = min(self.max_backoff, self.initial_backoff * self.multiplier**retry)
        delay = random.uniform(0.0, bound)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        return delay


@dataclasses.dataclass(frozen=True)
class ReconnectPolicy:
    """How a :class:`~agentmail_client.Subscription` reconnects after its stream breaks.

    The delay before reconnection attempt ``n`` (counting from 0) is drawn uniformly from
    ``[0, min(max_backoff, initial_backoff * multiplier ** n)]`` ("full jitter"). When the
    failure carried a ``RetryInfo`` delay (``SHUTTING_DOWN``, ``TOO_MANY_SUBSCRIPTIONS``), that
    delay is a floor: the server asked not to be called again sooner, and it is honoured even
    above ``max_backoff``. The count of attempts, and with it the backoff, starts again from 0
    once a connection has caught up (received its first heartbeat).

    Attributes:
        initial_backoff: Upper bound of the first delay, in seconds.
        max_backoff: Upper bound of any jittered delay, in seconds.
        multiplier: Growth factor of the delay bound per attempt.
        max_attempts: Most reconnection attempts in a row that may fail to catch up before the
            subscription gives up and raises the last error; ``None`` reconnects forever and
            ``0`` never reconnects.
    """

    initial_backoff: float = 0.1
    max_backoff: float = 10.0
    multiplier: float = 2.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff delays must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ValueError("max_attempts must be None or at least 0")

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Returns the delay in seconds before reconnection attempt ``attempt``.

        Args:
            attempt: How many attempts failed in a row before this one (0 for the first).
            retry_after: The delay the server asked for in ``RetryInfo``, if any.
        """
        try:
            bound = min(self.max_backoff, self.initial_backoff * self.multiplier**attempt)
        except OverflowError:
            # Reconnecting forever makes the exponent unbounded; the cap has long applied.
            bound = self.max_backoff
        delay = random.uniform(0.0, bound)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Default deadlines of one call attempt, in seconds; ``None`` means no deadline.

    A ``timeout=`` argument given to a client method overrides these for that call. The deadline
    applies to each attempt, so a retried read may take up to ``max_attempts`` times as long.

    Attributes:
        read: Deadline of calls that change nothing (Get*, List*).
        write: Deadline of calls that change state (sends, registration, MarkRead, ...), longer
            by default because they wait for a durable commit.
    """

    read: float | None = 10.0
    write: float | None = 30.0

    def __post_init__(self) -> None:
        for value in (self.read, self.write):
            if value is not None and value <= 0:
                raise ValueError("timeouts must be positive or None")


ChannelOptionValue = int | str
"""The value of one gRPC channel argument."""

PemSource = bytes | str | os.PathLike[str]
"""PEM data as ``bytes``, or the path of a PEM file (``str`` or ``pathlib.Path``)."""


def _pem(source: PemSource | None, what: str) -> bytes | None:
    """The PEM bytes of ``source``: itself if bytes, else the file it names."""
    if source is None or isinstance(source, bytes):
        return source
    if isinstance(source, str) and "-----BEGIN" in source:
        # Never echo it: it may be a private key. A str is a path; PEM content goes as bytes.
        raise ValueError(f"{what}: pass PEM content as bytes (a str is taken as a file path)")
    path = pathlib.Path(source)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None


@dataclasses.dataclass(frozen=True)
class TlsConfig:
    """TLS to the server, and the client certificate to present when it asks for one (mTLS).

    Each PEM setting is ``bytes`` of PEM, or the path of a PEM file (``str`` or
    ``pathlib.Path``); files are read when the client is created, so a missing file fails
    there::

        tls = TlsConfig(
            root_certificates="ca.pem",  # the CA that signed the server's certificate
            client_certificate="alice.pem",  # for a server with tls_client_ca (mTLS)
            client_key="alice-key.pem",
        )
        client = AgentmailClient("agentmail.example:7070", channel=ChannelConfig(tls=tls))

    Attributes:
        root_certificates: CA certificates the server's certificate must chain to; ``None``
            uses the public roots bundled with gRPC (or ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``).
        client_certificate: Certificate chain to present to a server that requires client
            certificates; goes with ``client_key``.
        client_key: Private key of ``client_certificate`` (unencrypted PEM).
        server_name_override: The name to check the server's certificate against (and send
            as SNI) instead of the target's host, e.g. when connecting by IP address to a
            certificate issued for a name. ``""`` checks the target's host.
    """

    root_certificates: PemSource | None = None
    client_certificate: PemSource | None = None
    client_key: PemSource | None = None
    server_name_override: str = ""

    def __post_init__(self) -> None:
        if (self.client_certificate is None) != (self.client_key is None):
            raise ValueError("client_certificate and client_key go together: give both or neither")

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """gRPC channel credentials for these settings, reading any files named.

        Raises:
            ValueError: a file cannot be read, or PEM content was given as a ``str``.
        """
        return grpc.ssl_channel_credentials(
            root_certificates=_pem(self.root_certificates, "root_certificates"),
            private_key=_pem(self.client_key, "client_key"),
            certificate_chain=_pem(self.client_certificate, "client_certificate"),
        )


@dataclasses.dataclass(frozen=True)
class ChannelConfig:
    """Settings of the underlying gRPC channel.

    Keepalive is on by default so that an idle subscription survives NAT and load-balancer
    idle timeouts and a dead server is noticed within about 80 s: a ping every 60 s, even
    without calls and without data to send (``grpc.http2.max_pings_without_data = 0``; gRPC's
    default stops after two pings on a connection that only receives, which is what a
    subscriber's is), closing the connection when no acknowledgement comes within 20 s.
    The agentmail server accepts pings every 30 s or slower; pinging more often than the
    server accepts gets the connection closed with ``GOAWAY too_many_pings``.

    Attributes:
        max_message_bytes: Largest message sent or received; responses may carry many bodies.
        keepalive_time_ms: Interval between keepalive pings (at least 30000 for an agentmail
            server with its default policy).
        keepalive_timeout_ms: How long to wait for a ping acknowledgement before closing.
        keepalive_permit_without_calls: Ping even with no call in flight, so that an idle
            connection broken by a middlebox is noticed before the next call needs it.
        tls: TLS (and mTLS) settings; ``None`` connects in plaintext.
        extra_options: Further raw ``(name, value)`` gRPC channel arguments, applied last.
    """

    max_message_bytes: int = 64 * _MIB
    keepalive_time_ms: int = 60_000
    keepalive_timeout_ms: int = 20_000
    keepalive_permit_without_calls: bool = True
    tls: TlsConfig | None = None
    extra_options: tuple[tuple[str, ChannelOptionValue], ...] = ()

    def __post_init__(self) -> None:
        if self.max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")
        if self.keepalive_time_ms <= 0 or self.keepalive_timeout_ms <= 0:
            raise ValueError("keepalive intervals must be positive")

    def options(self) -> list[tuple[str, ChannelOptionValue]]:
        """Returns the settings as gRPC channel arguments."""
        options: list[tuple[str, ChannelOptionValue]] = [
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.keepalive_time_ms", self.keepalive_time_ms),
            ("grpc.keepalive_timeout_ms", self.keepalive_timeout_ms),
            # The setting gRPC (1.85) actually waits for a ping's ack by; its default is 60 s.
            ("grpc.http2.ping_timeout_ms", self.keepalive_timeout_ms),
            ("grpc.keepalive_permit_without_calls", int(self.keepalive_permit_without_calls)),
            ("grpc.http2.max_pings_without_data", 0),
        ]
        if self.tls is not None and self.tls.server_name_override:
            options.append(("grpc.ssl_target_name_override", self.tls.server_name_override))
        options.extend(self.extra_options)
        return options
