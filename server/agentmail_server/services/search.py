"""SearchMessages: parse the query, resolve filters, page through ranked hits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from agentmail_server.domain import cursors, limits, names, search_query
from agentmail_server.domain.cursors import CursorCodec, Scope
from agentmail_server.domain.filters import Hit, SearchFilter
from agentmail_server.domain.models import IMPORTANCE_VALUES, Identity, Message
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

    async def search(
        self, caller: Identity, request: SearchRequest
    ) -> tuple[list[SearchResult], str]:
        """A page of hits and the next page's token (empty at the end)."""
        match = search_query.to_fts(request.query)
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
        scope = (caller.agent_id, match, *dataclasses.astuple(flt))
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
    ) -> tuple[list[SearchResult], str]:
        # Keyset paging below the newest id seen at the first page: later mail never appears.
        snapshot, before = position if position else (await self._search.snapshot(), 0)
        hits = await self._search.newest(
            caller.agent_id,
            caller.project_id,
            match,
            flt,
            snapshot=snapshot,
            before_id=before or None,
            limit=size + 1,
            include_bodies=include_bodies,
        )
        page = hits[:size]
        token = ""
        if len(hits) > size:
            token = self._codec.encode(cursors.SEARCH_NEWEST, scope, snapshot, page[-1].message.id)
        return _results(caller, page), token

    async def _by_relevance(
        self,
        caller: Identity,
        match: str,
        flt: SearchFilter,
        scope: Scope,
        position: tuple[int, ...] | None,
        size: int,
        include_bodies: bool,
    ) -> tuple[list[SearchResult], str]:
        # bm25 depends on statistics of the whole index, which new mail changes; so the first
        # page ranks once and later pages slice that frozen ranking instead of re-ranking.
        # Only the newest `candidates` matches are ranked (see DEFAULT_RELEVANCE_CANDIDATES).
        fingerprint = (match, flt)
        ranked: Sequence[int]
        scores: Sequence[float]
        if position is None:
            pairs = await self._search.ranked(
                caller.agent_id,
                caller.project_id,
                match,
                flt,
                candidates=self._candidates,
                limit=MAX_RELEVANCE_RESULTS,
            )
            ranked = [pair[0] for pair in pairs]
            scores = [pair[1] for pair in pairs]
            key, offset = 0, 0
            if len(ranked) > size:
                key = self.rankings.put(caller.agent_id, fingerprint, ranked, scores)
        else:
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
            caller.agent_id, caller.project_id, match, ids, include_bodies
        )
        token = ""
        if offset + size < len(ranked):
            token = self._codec.encode(cursors.SEARCH_RELEVANCE, scope, key, offset + size)
        return _results(caller, hits, score_of), token

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


def _results(
    caller: Identity, hits: list[Hit], score_of: dict[int, float] | None = None
) -> list[SearchResult]:
    """The caller's view of each hit, with its score from ``score_of`` (the frozen ranking's)
    when given."""
    return [
        SearchResult(
            hit.message.seen_by(caller.agent_id, caller.name, hit.kind),
            hit.snippet,
            hit.score if score_of is None else score_of[hit.message.id],
        )
        for hit in hits
    ]
