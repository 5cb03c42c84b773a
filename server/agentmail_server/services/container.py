"""Every use case, built once over one storage backend and the subscription hub."""

from __future__ import annotations

import dataclasses

from agentmail_server.config import ServerConfig
from agentmail_server.domain.clock import Clock, SystemClock
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.hub import Hub
from agentmail_server.services.agents import AgentDirectory
from agentmail_server.services.auth import Authenticator
from agentmail_server.services.mail import Mailer
from agentmail_server.services.receipts import AckTracker
from agentmail_server.services.recipients import RecipientResolver
from agentmail_server.services.search import Searcher
from agentmail_server.services.subscriptions import InboxStreamer
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
    acks: AckTracker


def build_services(
    storage: Storage,
    hub: Hub,
    config: ServerConfig,
    codec: CursorCodec,
    clock: Clock | None = None,
) -> Services:
    """Wire the use cases to ``storage`` and ``hub`` (nothing is started here).

    Args:
        storage: The backend's ports.
        hub: Live fan-out to subscriptions.
        config: Cache sizes, the heartbeat interval and the ack overdue threshold.
        codec: Seals every page token and cursor the services issue.
        clock: The wall clock every service reads (the system clock when omitted); storage
            receives the time from the services, so this is the server's only clock.
    """
    clock = SystemClock() if clock is None else clock
    reads = storage.reads
    auth = Authenticator(reads, config.cache_size)
    resolver = RecipientResolver(reads, config.cache_size)
    return Services(
        auth=auth,
        directory=AgentDirectory(storage.agents, reads, config.cache_size, codec, clock),
        resolver=resolver,
        mailer=Mailer(storage.mail, reads, resolver, codec, clock),
        streamer=InboxStreamer(hub, reads, config.heartbeat_seconds, codec, clock),
        searcher=Searcher(storage.search, reads, codec),
        acks=AckTracker(storage.receipts, reads, codec, clock, config.ack_overdue_seconds),
    )
