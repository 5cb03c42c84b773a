"""SearchService over gRPC: authenticate, convert, delegate to the Searcher."""

from __future__ import annotations

from typing import Any

from agentmail.v1 import search_service_pb2, search_service_pb2_grpc

from agentmail_server.rpc import convert, search_wire, wire
from agentmail_server.rpc.authorization import Gate
from agentmail_server.services.search import Searcher, SearchRequest

_M = "/agentmail.v1.SearchService/"  # method names in the authorisation table


def _micros(request: search_service_pb2.SearchMessagesRequest, field: str) -> int | None:
    # wire.check_request has validated the timestamp: its microseconds fit SQLite's integers.
    if not request.HasField(field):  # type: ignore[arg-type]
        return None
    return wire.micros(getattr(request, field))


class SearchServicer(search_service_pb2_grpc.SearchServiceServicer):
    """Full-text search over the caller's mail."""

    def __init__(self, searcher: Searcher, gate: Gate) -> None:
        self._searcher = searcher
        self._gate = gate

    async def SearchMessages(
        self, request: search_service_pb2.SearchMessagesRequest, context: Any
    ) -> search_service_pb2.SearchMessagesResponse:
        caller = await self._gate.agent(context, _M + "SearchMessages")
        wire.check_request(request)
        page = await self._searcher.search(
            caller,
            SearchRequest(
                query=request.query,
                page_size=request.page_size,
                page_token=request.page_token,
                newest_first=request.order == search_service_pb2.SEARCH_ORDER_NEWEST,
                scope_sent=request.scope == search_service_pb2.SEARCH_SCOPE_SENT,
                scope_received=request.scope == search_service_pb2.SEARCH_SCOPE_RECEIVED,
                sender=request.sender,
                recipient=request.recipient,
                thread_id=request.thread_id,
                topic=request.topic,
                min_importance=request.min_importance,
                start_micros=_micros(request, "start_time"),
                end_micros=_micros(request, "end_time"),
                include_bodies=convert.include_bodies(request.view),
            ),
        )
        return search_wire.search_response(
            page.hits, page.scores, caller.project_slug, page.next_page_token
        )
