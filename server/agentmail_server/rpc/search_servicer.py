"""SearchService: declared in the contract; full-text search arrives in its own change."""

from __future__ import annotations

from typing import Any

from agentmail.v1 import search_service_pb2, search_service_pb2_grpc

from agentmail_server.errors import Unimplemented
from agentmail_server.rpc.context import authorization
from agentmail_server.services.auth import Authenticator


class SearchServicer(search_service_pb2_grpc.SearchServiceServicer):
    """Answers UNIMPLEMENTED (after authenticating) until search lands."""

    def __init__(self, auth: Authenticator) -> None:
        self._auth = auth

    async def SearchMessages(
        self, request: search_service_pb2.SearchMessagesRequest, context: Any
    ) -> search_service_pb2.SearchMessagesResponse:
        await self._auth.require(authorization(context))
        raise Unimplemented("NOT_IMPLEMENTED", "SearchMessages is not implemented yet")
