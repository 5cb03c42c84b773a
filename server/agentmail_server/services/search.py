"""SearchMessages: parse the query, resolve filters, page through ranked hits.

Hits stay the rows the storage read (:mod:`agentmail_server.domain.search_hits`, already in
the caller's view) from the database to the wire: the service adds their scores and the next
page's token, and builds nothing per hit.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from agentmail_server.domain import cursors, limits, names, search_query
from agentmail_server.domain.cursors import CursorCodec, Scope
from agentmail_server.domain.filters import SearchFilter
from agentmail_server.domain.models import IMPORTANCE_VALUES, Identity
from agentmail_server.domain.search_hits import ID, SCORE, HitRow
from agentmail_server.errors import NotFound, invalid
from agentmail_server.services.rankings import RankingCache
from agentmail_server.storage.ports import MailReads, SearchReads

# Relevance pages are offsets into a ranking; deep offsets cost more, so paging stops here.
MAX_RELEVANCE_RESULTS = 10_000
# Relevance ranks the newest this many visible matches (the server setting
# search_relevance_candidates): scoring every match of a common term costs time in proportion
# to the corpus, scoring a bounded set does not.
DEFAULT_RELEVANCE_CANDIDATES = 2000
# Frozen rankings kept for paging: at most this many searches (LRU), each for this long.
RANKING_CACHE_ENTRIES = 256
RANKING_TTL_SECONDS = 900.0
# Parsed queries kept (LRU): agents repeat searches and page through them, and each page
# parses its query again (about 5 µs; the cache holds at most this many queries of at most
# search_query.MAX_QUERY_CHARS characters). Refused queries raise, so are never kept.
PARSED_QUERIES = 256
_FILTER_FIELDS = tuple(field.name for field in dataclasses.fields(SearchFilter))


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


@dataclasses.dataclass(frozen=True, slots=True)
class SearchPage:
    """A page of hits in the caller's view, the relevance of each, and the next page's token
    (empty at the end)."""

    hits: list[HitRow]
    scores: list[float]
    next_page_token: str


class Searcher:
    """Use case of SearchService."""

    def __init__(
        self,
        search: SearchReads,
        queries: MailReads,
        codec: CursorCodec,
        relevance_candidates: int = DEFAULT_RELEVANCE_CANDIDATES,
    ) -> None:
        self._search = search
        self._queries = queries
        self._codec = codec
        self._candidates = relevance_candidates
        self.rankings = RankingCache(
            capacity=RANKING_CACHE_ENTRIES, ttl_seconds=RANKING_TTL_SECONDS
        )

    async def search(self, caller: Identity, request: SearchRequest) -> SearchPage:
        """A page of hits and the next page's token."""
        match = _to_fts(request.query)
        size = limits.page_size(request.page_size, 20, 100)
        kind = cursors.SEARCH_NEWEST if request.newest_first else cursors.SEARCH_RELEVANCE
        if request.min_importance not in IMPORTANCE_VALUES:
            raise invalid(
                "min_importance",
                f"unknown importance {request.min_importance}",
                "UNKNOWN_ENUM_VALUE",
            )
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
        # A token is bound to its caller and to the very search (query and filters) it pages.
        scope = (caller.agent_id, match, *(getattr(flt, name) for name in _FILTER_FIELDS))
        position = self._codec.decode_many(request.page_token, kind, scope, 2)
        if request.newest_first:
            return await self._newest(
                caller, match, flt, scope, position, size, request.include_bodies
            )
        return await self._by_relevance(
            caller, match, flt, scope, position, size, request.include_bodies
        )

    async def _newest(
        self,
        caller: Identity,
        match: str,
        flt: SearchFilter,
        scope: Scope,
        position: tuple[int, ...] | None,
        size: int,
        include_bodies: bool,
    ) -> SearchPage:
        # Keyset paging below the newest id seen at the first page: later mail never appears.
        # A first page reads that id with its hits (position None: no snapshot yet).
        snapshot, hits = await self._search.newest(
            caller.agent_id,
            caller.name,
            caller.project_id,
            match,
            flt,
            snapshot=position[0] if position else None,
            before_id=position[1] if position else None,
            limit=size + 1,
            include_bodies=include_bodies,
        )
        page = hits[:size]
        token = ""
        if len(hits) > size:
            token = self._codec.encode(cursors.SEARCH_NEWEST, scope, snapshot, page[-1][ID])
        return SearchPage(page, [hit[SCORE] for hit in page], token)

    async def _by_relevance(
        self,
        caller: Identity,
        match: str,
        flt: SearchFilter,
        scope: Scope,
        position: tuple[int, ...] | None,
        size: int,
        include_bodies: bool,
    ) -> SearchPage:
        # bm25 depends on statistics of the whole index, which new mail changes; so the first
        # page ranks once and later pages slice that frozen ranking instead of re-ranking.
        # Only the newest `candidates` matches are ranked (see DEFAULT_RELEVANCE_CANDIDATES).
        fingerprint = (match, flt)
        ranked: Sequence[int]
        scores: Sequence[float]
        if position is None:
            pairs, hits = await self._search.ranked(
                caller.agent_id,
                caller.name,
                caller.project_id,
                match,
                flt,
                candidates=self._candidates,
                limit=MAX_RELEVANCE_RESULTS,
                page=size,
                include_bodies=include_bodies,
            )
            token = ""
            if len(pairs) > size:
                ranked = [pair[0] for pair in pairs]
                scores = [pair[1] for pair in pairs]
                key = self.rankings.put(caller.agent_id, fingerprint, ranked, scores)
                token = self._codec.encode(cursors.SEARCH_RELEVANCE, scope, key, size)
            score_of = dict(pairs[:size])
            return SearchPage(hits, [score_of[hit[ID]] for hit in hits], token)
        key, offset = position
        found = self.rankings.get_scored(key, caller.agent_id, fingerprint)
        if found is None:
            raise invalid(
                "page_token",
                "this search has expired or was made with other parameters; search again",
                "INVALID_PAGE_TOKEN",
            )
        ranked, scores = found
        ids = list(ranked[offset : offset + size])
        score_of = dict(zip(ids, scores[offset : offset + size], strict=True))
        hits = await self._search.hits_for(
            caller.agent_id, caller.name, caller.project_id, match, ids, include_bodies
        )
        token = ""
        if offset + size < len(ranked):
            token = self._codec.encode(cursors.SEARCH_RELEVANCE, scope, key, offset + size)
        return SearchPage(hits, [score_of[hit[ID]] for hit in hits], token)

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


@functools.lru_cache(maxsize=PARSED_QUERIES)
def _to_fts(query: str) -> str:
    """:func:`search_query.to_fts`, remembered for the last :data:`PARSED_QUERIES` queries."""
    return search_query.to_fts(query)
