"""Every use case, built once over one storage backend and the subscription hub."""

from __future__ import annotations

import dataclasses

from agentmail_server.config import ServerConfig
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.hub import Hub
from agentmail_server.services.agents import AgentDirectory
from agentmail_server.services.auth import Authenticator
from agentmail_server.services.mail import Mailer
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


def build_services(
    storage: Storage, hub: Hub, config: ServerConfig, codec: CursorCodec
) -> Services:
    """Wire the use cases to ``storage`` and ``hub`` (nothing is started here); ``codec``
    seals every page token and cursor they issue."""
    reads = storage.reads
    auth = Authenticator(reads, config.cache_size)
    resolver = RecipientResolver(reads, config.cache_size)
    return Services(
        auth=auth,
        directory=AgentDirectory(storage.agents, reads, auth, config.cache_size, codec),
        resolver=resolver,
        mailer=Mailer(storage.mail, reads, resolver, codec),
        streamer=InboxStreamer(hub, reads, config.heartbeat_seconds, codec),
        searcher=Searcher(storage.search, reads, codec),
    )
