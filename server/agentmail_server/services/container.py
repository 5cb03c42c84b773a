"""Every use case, built once over one storage backend and the subscription hub."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from agentmail_server.config import ServerConfig
from agentmail_server.domain.clock import Clock, SystemClock
from agentmail_server.domain.contacts import ContactPolicy, SendRules
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.hub import Hub
from agentmail_server.limits.buckets import monotonic_seconds
from agentmail_server.limits.flood_guard import FloodGuard
from agentmail_server.services.agents import AgentDirectory
from agentmail_server.services.auth import Authenticator
from agentmail_server.services.bulk_send import BulkSender
from agentmail_server.services.contacts import ContactBook
from agentmail_server.services.enrollment import Enrollment
from agentmail_server.services.mail import Mailer
from agentmail_server.services.presence import Presence
from agentmail_server.services.receipts import AckTracker
from agentmail_server.services.recipients import RecipientResolver
from agentmail_server.services.reservations import Reservations
from agentmail_server.services.search import Searcher
from agentmail_server.services.subscriptions import InboxStreamer
from agentmail_server.services.tokens import TokenKeeper
from agentmail_server.storage.ports import Storage


@dataclasses.dataclass(frozen=True)
class Services:
    """The use cases the gRPC servicers delegate to."""

    auth: Authenticator
    directory: AgentDirectory
    resolver: RecipientResolver
    mailer: Mailer
    streamer: InboxStreamer
    searcher: Searcher
    contacts: ContactBook
    presence: Presence
    acks: AckTracker
    reservations: Reservations
    tokens: TokenKeeper
    enrollment: Enrollment
    bulk: BulkSender


def _flood_guard(config: ServerConfig, clock: Clock) -> FloodGuard | None:
    if config.flood_guard_per_minute == 0:
        return None
    return FloodGuard(
        config.flood_guard_per_minute, config.rate_limit_subjects, monotonic_seconds(clock)
    )


def build_services(
    storage: Storage,
    hub: Hub,
    config: ServerConfig,
    codec: CursorCodec,
    clock: Clock | None = None,
    *,
    operator_hashes: Sequence[str] = (),
) -> Services:
    """Wire the use cases to ``storage`` and ``hub`` (nothing is started here).

    Args:
        storage: The backend's ports.
        hub: Live fan-out to subscriptions.
        config: Cache sizes, the heartbeat interval and the ack overdue threshold.
        codec: Seals every page token and cursor the services issue.
        clock: The wall clock every service reads (the system clock when omitted); storage
            receives the time from the services, so this is the server's only clock.
        operator_hashes: SHA-256 digests of the operator tokens.
    """
    clock = SystemClock() if clock is None else clock
    reads = storage.reads
    presence = Presence(
        storage.lifecycle,
        clock,
        max_pending=config.cache_size,
        flush_seconds=config.presence_flush_seconds,
        auto_retire_idle_seconds=config.auto_retire_idle_seconds,
    )
    auth = Authenticator(
        reads,
        config.cache_size,
        presence,
        clock=clock,
        operator_hashes=operator_hashes,
        operator_cert_names=config.operator_certificate_names,
    )
    enrollment = Enrollment(config.enrollment_secret)
    resolver = RecipientResolver(reads, config.cache_size)
    default_policy = ContactPolicy.parse(config.default_contact_policy)
    rules = SendRules(
        default_policy=default_policy,
        auto_window_micros=config.contact_auto_window_seconds * 1_000_000,
        broadcast_idle_micros=config.broadcast_idle_seconds * 1_000_000,
    )
    directory = AgentDirectory(
        storage.agents,
        reads,
        config.cache_size,
        codec,
        clock,
        lifecycle=storage.lifecycle,
        presence=presence,
        default_policy=default_policy,
    )
    # One flood guard for single and bulk sends: a pair's budget is the same either way.
    flood_guard = _flood_guard(config, clock)
    mailer = Mailer(storage.mail, reads, resolver, codec, clock, rules, presence, flood_guard)
    return Services(
        auth=auth,
        directory=directory,
        resolver=resolver,
        mailer=mailer,
        streamer=InboxStreamer(
            hub,
            reads,
            config.heartbeat_seconds,
            codec,
            clock,
            max_per_agent=config.max_subscriptions_per_agent,
        ),
        searcher=Searcher(storage.search, reads, codec, config.search_relevance_candidates),
        contacts=ContactBook(storage.contacts, reads, codec, clock, default_policy),
        presence=presence,
        acks=AckTracker(storage.receipts, reads, codec, clock, config.ack_overdue_seconds),
        reservations=Reservations(
            storage.reservations,
            storage.reservation_reads,
            reads,
            codec,
            clock,
            config.reservation_stale_seconds,
        ),
        tokens=TokenKeeper(storage.agents, auth, hub, clock),
        enrollment=enrollment,
        bulk=BulkSender(mailer, storage.mail, clock, flood_guard, config.max_sends_per_call),
    )
