"""The server's HTTP/2 keepalive and ping policy, chosen together with the typed client's.

Two jobs, two settings:

- **Detecting dead subscribers.** A ``SubscribeInbox`` stream whose host vanished (power loss, a
  NAT that forgot the connection) sends no FIN; without pings its subscription would be held
  until TCP gives up, which takes many minutes. The server pings every connection after
  ``time_ms`` (60 s) without reads and closes it when no acknowledgement comes within
  ``timeout_ms`` (20 s): a dead subscriber is dropped within about 80 s, and its hub slot freed.
  ``keepalive_permit_without_calls`` lets it ping connections with no call in flight too, and
  ``max_pings_without_data = 0`` lets it keep pinging a connection that only receives.

- **Tolerating clients' pings.** gRPC counts a "ping strike" for each ping received sooner than
  ``min_ping_interval_ms`` after the previous one while the server sends no data, and after
  ``max_ping_strikes`` (2) strikes it ends the connection with ``GOAWAY too_many_pings`` (every
  call on it fails with UNAVAILABLE). The typed client pings every 60 s (``ChannelConfig``), so
  the server accepts pings every 30 s: half the client's interval, leaving room for timer
  slack, while still refusing a client that pings in a tight loop. Other clients must keep
  their keepalive time at 30 s or more (Go clients clamp it to at least 10 s).

Two channel arguments are not what their names suggest (grpcio 1.85, measured; gRPC ignores
unknown argument names silently, so ``tests/security/test_keepalive.py`` checks behaviour, not
only names):

- The wait for a ping's acknowledgement is ``grpc.http2.ping_timeout_ms`` (default 60 s), on
  servers and clients alike; ``grpc.keepalive_timeout_ms`` alone changed nothing (a silent
  peer was dropped after keepalive time + 60 s whatever it said). Both are set to
  ``timeout_ms``.
- The ping tolerance is ``grpc.http2.min_ping_interval_without_data_ms`` (the C core's
  ``GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS``).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ServerKeepalive:
    """Keepalive and ping-abuse settings of the server (see the module docstring for why).

    Attributes:
        time_ms: Time without reads after which the server pings a connection.
        timeout_ms: How long the server waits for the ping's acknowledgement before closing.
        min_ping_interval_ms: Least time between two pings from a client (while the server
            sends nothing) that is not a strike; must stay at most half the typed client's
            ``keepalive_time_ms``.
        max_ping_strikes: Strikes tolerated before ``GOAWAY too_many_pings``.
    """

    time_ms: int = 60_000
    timeout_ms: int = 20_000
    min_ping_interval_ms: int = 30_000
    max_ping_strikes: int = 2

    def __post_init__(self) -> None:
        if min(self.time_ms, self.timeout_ms, self.min_ping_interval_ms) <= 0:
            raise ValueError("keepalive intervals must be positive")
        if self.max_ping_strikes < 0:
            raise ValueError("max_ping_strikes must be >= 0")

    @property
    def dead_peer_seconds(self) -> float:
        """The longest a silent, dead peer keeps its connection (and subscriptions) open."""
        return (self.time_ms + self.timeout_ms) / 1000

    def options(self) -> list[tuple[str, int]]:
        """The settings as gRPC server channel arguments."""
        return [
            ("grpc.keepalive_time_ms", self.time_ms),
            ("grpc.keepalive_timeout_ms", self.timeout_ms),
            # What actually bounds the wait for the ping's ack (see the module docstring).
            ("grpc.http2.ping_timeout_ms", self.timeout_ms),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.http2.min_ping_interval_without_data_ms", self.min_ping_interval_ms),
            ("grpc.http2.max_ping_strikes", self.max_ping_strikes),
        ]
