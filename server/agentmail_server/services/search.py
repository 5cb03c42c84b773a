"""SearchMessages: parse the query, resolve filters, page through ranked hits."""

from __future__ import annotations

import dataclasses

from agentmail_server.domain import cursors, limits, names, search_query
from agentmail_server.domain.models import IMPORTANCE_VALUES, Identity, Message
from agentmail_server.errors import NotFound, invalid
from agentmail_server.storage.queries import Queries
from agentmail_server.storage.search import SearchFilter, SearchQueries

# Relevance pages are offsets into a ranking; deep offsets cost more, so paging stops here.
MAX_RELEVANCE_RESULTS = 10_000


@dataclasses.dataclass(frozen=True)
class SearchRequest:
    """What the caller asked for, as plain values."""

    query: str
    page_size: int = 0
    page_token: str = ""
    newest_first: bool = False
    scope_sent: bool = False
    scope_received: bool = False
    sender: str = ""
    recipient: str = ""
    thread_id: str = ""
    topic: str = ""
    min_importance: int = 0
    start_micros: int | None = None
    end_micros: int | None = None
    include_bodies: bool = False


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """One hit in the caller's view."""

    message: Message
    snippet: str
    score: float


class Searcher:
    """Use case of SearchService."""

    def __init__(self, search: SearchQueries, queries: Queries) -> None:
        self._search = search
        self._queries = queries

    async def search(
        self, caller: Identity, request: SearchRequest
    ) -> tuple[list[SearchResult], str]:
        """A page of hits and the next page's token (empty at the end)."""
        match = search_query.to_fts(request.query)
        size = limits.page_size(request.page_size, 20, 100)
        kind = cursors.SEARCH_NEWEST if request.newest_first else cursors.SEARCH_RELEVANCE
        position = cursors.decode_many(request.page_token, kind, 2)
        if request.min_importance not in IMPORTANCE_VALUES:
            raise invalid("min_importance", f"unknown importance {request.min_importance}")
        limits.check_length("thread_id", request.thread_id, limits.MAX_THREAD_ID_CHARS)
        limits.check_length("topic", request.topic, limits.MAX_TOPIC_CHARS)
        flt = SearchFilter(
            sent_only=request.scope_sent,
            received_only=request.scope_received,
            sender_id=await self._agent_id(caller, "sender", request.sender),
            recipient_id=await self._agent_id(caller, "recipient", request.recipient),
            thread_id=request.thread_id,
            topic=request.topic,
            min_importance=request.min_importance,
            start_micros=request.start_micros,
            end_micros=request.end_micros,
        )
        if position is None:
            snapshot, offset_or_last = await self._search.snapshot(), 0
        else:
            snapshot, offset_or_last = position
        hits = await self._search.search(
            caller.agent_id,
            caller.project_id,
            match,
            flt,
            snapshot=snapshot,
            newest_first=request.newest_first,
            offset=0 if request.newest_first else offset_or_last,
            before_id=(offset_or_last or None) if request.newest_first else None,
            limit=size + 1,
            include_bodies=request.include_bodies,
        )
        more = len(hits) > size
        page = hits[:size]
        results = [
            SearchResult(
                hit.message.seen_by(caller.agent_id, caller.name, hit.kind), hit.snippet, hit.score
            )
            for hit in page
        ]
        token = ""
        if more and request.newest_first:
            token = cursors.encode(kind, snapshot, page[-1].message.id)
        elif more and offset_or_last + size < MAX_RELEVANCE_RESULTS:
            token = cursors.encode(kind, snapshot, offset_or_last + size)
        return results, token

    async def _agent_id(self, caller: Identity, field: str, name: str) -> int | None:
        if not name:
            return None
        if not names.is_valid_agent_name(name):
            raise invalid(field, "is not a valid agent name", "INVALID_AGENT_NAME")
        found = await self._queries.agents_by_keys(caller.project_id, [names.name_key(name)])
        if not found:
            raise NotFound(
                "AGENT_NOT_FOUND",
                f"no agent {name!r} in this project",
                metadata={"name": name, "field": field},
            )
        return int(found[0][0])
