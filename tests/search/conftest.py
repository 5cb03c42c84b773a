"""Search fixtures: a project with five agents, stubs for MailService and SearchService, and
helpers to send mail, run one search and page through every hit of a search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from agentmail.v1 import (
    mail_service_pb2,
    search_service_pb2,
    search_service_pb2_grpc,
    types_pb2,
)

# Paging helpers give up after this many pages instead of looping forever on a bad token.
MAX_PAGES = 1000


@pytest.fixture
def search_stub(channel: grpc.aio.Channel) -> search_service_pb2_grpc.SearchServiceStub:
    """SearchService on ``channel``."""
    return search_service_pb2_grpc.SearchServiceStub(channel)


@pytest.fixture
def send(mail_stub: Any) -> Callable[..., Awaitable[types_pb2.Message]]:
    """``await send(sender, to=[...], subject=..., body=..., ...)`` -> the sender's view."""

    async def _send(sender: Any, **fields: Any) -> types_pb2.Message:
        fields.setdefault("subject", "hello")
        fields.setdefault("body", "")
        response = await mail_stub.SendMessage(
            mail_service_pb2.SendMessageRequest(**fields), metadata=sender.md
        )
        return response.message

    return _send


@pytest.fixture
def search(
    search_stub: search_service_pb2_grpc.SearchServiceStub,
) -> Callable[..., Awaitable[search_service_pb2.SearchMessagesResponse]]:
    """``await search(agent, query, **request_fields)`` -> one SearchMessagesResponse."""

    async def _search(
        agent: Any, query: str, **fields: Any
    ) -> search_service_pb2.SearchMessagesResponse:
        return await search_stub.SearchMessages(
            search_service_pb2.SearchMessagesRequest(query=query, **fields), metadata=agent.md
        )

    return _search


@pytest.fixture
def search_ids(
    search: Callable[..., Awaitable[search_service_pb2.SearchMessagesResponse]],
) -> Callable[..., Awaitable[set[int]]]:
    """``await search_ids(agent, query, **fields)`` -> ids of one 100-hit page (asserted to
    be the only page)."""

    async def _ids(agent: Any, query: str, **fields: Any) -> set[int]:
        fields.setdefault("page_size", 100)
        response = await search(agent, query, **fields)
        assert response.next_page_token == "", "expected a single page"
        found = [hit.message.id for hit in response.hits]
        assert len(found) == len(set(found)), f"duplicate hits: {found}"
        return set(found)

    return _ids


@pytest.fixture
def search_all(
    search: Callable[..., Awaitable[search_service_pb2.SearchMessagesResponse]],
) -> Callable[..., Awaitable[list[search_service_pb2.SearchHit]]]:
    """``await search_all(agent, query, page_size=..., between=None, **fields)``: every hit,
    page by page until the token is empty; ``between`` is awaited between pages."""

    async def _all(
        agent: Any,
        query: str,
        page_size: int = 10,
        between: Callable[[], Awaitable[None]] | None = None,
        **fields: Any,
    ) -> list[search_service_pb2.SearchHit]:
        hits: list[search_service_pb2.SearchHit] = []
        token = ""
        for _ in range(MAX_PAGES):
            page = await search(agent, query, page_size=page_size, page_token=token, **fields)
            assert len(page.hits) <= page_size
            hits += page.hits
            token = page.next_page_token
            if not token:
                return hits
            assert page.hits, "a page with a next token must not be empty"
            if between is not None:
                await between()
        raise AssertionError("search paging never ended")

    return _all
