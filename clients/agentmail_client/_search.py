"""SearchService calls: full-text search over the mail the agent sent or received."""

# ruff: noqa: ASYNC109 -- `timeout` becomes the gRPC deadline, which the server sees and
# honours; an asyncio.timeout around the call would only cancel it locally.

from __future__ import annotations

import datetime

from agentmail.v1 import search_service_pb2
from google.protobuf import timestamp_pb2

from ._mail import _importance
from ._models import Importance, Page, _stamp, _view
from ._search_models import SearchHit, SearchOrder, SearchScope
from ._transport import CallKind, ClientBase


def _bound(field: str, value: datetime.datetime | None) -> timestamp_pb2.Timestamp | None:
    # protobuf reads a naive datetime as UTC; a naive datetime.now() would then silently
    # shift the bound by the local UTC offset, so only aware datetimes are accepted.
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{field} must be a timezone-aware datetime, got {value!r}")
    return _stamp(value)


class SearchCalls(ClientBase):
    """The SearchService part of :class:`~agentmail_client.AgentmailClient`; needs a token."""

    async def search_messages(
        self,
        query: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        order: SearchOrder = SearchOrder.RELEVANCE,
        scope: SearchScope = SearchScope.ALL,
        sender: str = "",
        recipient: str = "",
        thread_id: str = "",
        topic: str = "",
        min_importance: Importance | None = None,
        start_time: datetime.datetime | None = None,
        end_time: datetime.datetime | None = None,
        include_bodies: bool = True,
        timeout: float | None = None,
    ) -> Page[SearchHit]:
        """Returns a page of the messages the agent sent or received that match ``query``.

        Subject and body are searched. Pages come from the mail that existed at the first
        page, so mail arriving while paging neither shifts nor repeats results: pass
        ``next_page_token`` back, with the same query and filters, until it is empty::

            token = ""
            while True:
                page = await client.search_messages("deploy", page_token=token)
                ...
                if not (token := page.next_page_token):
                    break

        Args:
            query: Words (all must match), ``"quoted phrases"``, ``prefix*``, ``AND`` / ``OR``
                / ``NOT`` in upper case, parentheses, and ``subject:`` / ``body:`` before a
                word, phrase or group. Required; at most 1,000 characters.
            page_size: Most hits; 0 means the server default (20); at most 100.
            page_token: ``next_page_token`` of the previous page of the same search.
            order: RELEVANCE (best match first) or NEWEST (newest first).
            scope: ALL, or only what the agent SENT or RECEIVED.
            sender: Only messages from this agent (name, case-insensitive).
            recipient: Only messages addressed to this agent (name, case-insensitive).
            thread_id: Only this thread.
            topic: Only this topic.
            min_importance: Only messages at least this important; ``None`` means any.
            start_time: Only messages sent at or after this time (timezone-aware).
            end_time: Only messages sent before this time (timezone-aware).
            include_bodies: False leaves bodies empty (``body_size_bytes`` stays set).
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            ValueError: ``start_time`` or ``end_time`` is a naive datetime.
            InvalidArgument: ``INVALID_QUERY`` with a field violation on ``query`` saying what
                is wrong; ``INVALID_PAGE_TOKEN`` for a token of another search, or of one
                whose frozen ranking expired (search again); ``INVALID_AGENT_NAME``.
            NotFound: ``AGENT_NOT_FOUND`` for an unknown ``sender`` or ``recipient``.
        """
        request = search_service_pb2.SearchMessagesRequest(
            query=query,
            page_size=page_size,
            page_token=page_token,
            order=order.to_proto(),
            scope=scope.to_proto(),
            sender=sender,
            recipient=recipient,
            thread_id=thread_id,
            topic=topic,
            min_importance=_importance(min_importance),
            start_time=_bound("start_time", start_time),
            end_time=_bound("end_time", end_time),
            view=_view(include_bodies),
        )
        response = await self._call(
            self._connection.search.SearchMessages, request, CallKind.READ, timeout
        )
        hits = tuple(SearchHit.from_proto(hit) for hit in response.hits)
        return Page(hits, response.next_page_token)
