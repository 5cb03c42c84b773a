"""Frozen models of search results and thread summaries, and their wire conversion.

They follow :mod:`._models`: timestamps are timezone-aware UTC datetimes (``None`` when unset)
and repeated fields are tuples, so that every model is hashable and safe to share.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum

from agentmail.v1 import mail_service_pb2, search_service_pb2

from ._models import Message, _stamp, _time


class SearchOrder(enum.Enum):
    """Order of search results."""

    RELEVANCE = "relevance"
    """Best match first (bm25, a subject match worth more than a body match)."""
    NEWEST = "newest"
    """Newest first."""

    def to_proto(self) -> search_service_pb2.SearchOrder.ValueType:
        """Returns the wire value."""
        if self is SearchOrder.NEWEST:
            return search_service_pb2.SEARCH_ORDER_NEWEST
        return search_service_pb2.SEARCH_ORDER_RELEVANCE


class SearchScope(enum.Enum):
    """Which side of the caller's mail a search covers."""

    ALL = "all"
    """Everything the caller sent or received."""
    SENT = "sent"
    """Only what the caller sent."""
    RECEIVED = "received"
    """Only what the caller received."""

    def to_proto(self) -> search_service_pb2.SearchScope.ValueType:
        """Returns the wire value."""
        return _SCOPE_TO_PROTO[self]


_SCOPE_TO_PROTO = {
    SearchScope.ALL: search_service_pb2.SEARCH_SCOPE_ALL,
    SearchScope.SENT: search_service_pb2.SEARCH_SCOPE_SENT,
    SearchScope.RECEIVED: search_service_pb2.SEARCH_SCOPE_RECEIVED,
}


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """One ranked search result.

    Attributes:
        message: The message as the caller may see it (bcc restricted as everywhere else);
            its body is empty when the search asked for no bodies.
        snippet: An excerpt of the best-matching field (subject or body) with each match
            wrapped in ``[`` and ``]``.
        score: Relevance, higher is better; comparable only within one search.
    """

    message: Message
    snippet: str
    score: float

    @classmethod
    def from_proto(cls, pb: search_service_pb2.SearchHit) -> SearchHit:
        """Converts from the wire message."""
        return cls(Message.from_proto(pb.message), pb.snippet, pb.score)

    def to_proto(self) -> search_service_pb2.SearchHit:
        """Converts to the wire message."""
        return search_service_pb2.SearchHit(
            message=self.message.to_proto(), snippet=self.snippet, score=self.score
        )


@dataclasses.dataclass(frozen=True)
class ActionItem:
    """An open action item found in a message body of a thread.

    Attributes:
        message_id: The message holding it.
        author: Name of the message's sender.
        text: The text after ``[ ]`` of an unchecked checkbox line, or the whole marker line,
            trimmed.
        kind: ``"checkbox"`` for a ``- [ ]`` line, otherwise the marker found: ``"TODO"``,
            ``"ACTION"`` or ``"BLOCKED"``. A string rather than an enum, as on the wire, so
            that a newer server's kinds come through unchanged.
    """

    message_id: int
    author: str
    text: str
    kind: str

    @classmethod
    def from_proto(cls, pb: mail_service_pb2.ActionItem) -> ActionItem:
        """Converts from the wire message."""
        return cls(pb.message_id, pb.author, pb.text, pb.kind)

    def to_proto(self) -> mail_service_pb2.ActionItem:
        """Converts to the wire message."""
        return mail_service_pb2.ActionItem(
            message_id=self.message_id, author=self.author, text=self.text, kind=self.kind
        )


@dataclasses.dataclass(frozen=True)
class ThreadSummary:
    """What :meth:`~agentmail_client.AgentmailClient.summarize_thread` returns.

    Computed by the server from the messages the caller can see, without any language model.

    Attributes:
        thread_id: The thread.
        subject: Subject of the thread's first message.
        participants: Senders and recipients visible to the caller, in order of first
            appearance.
        message_count: How many of the thread's messages the caller can see.
        first_time: When the first of them was sent.
        last_time: When the last of them was sent.
        action_items: Open action items, oldest first.
        recent_messages: The latest messages, oldest of them first, with bodies.
    """

    thread_id: str
    subject: str
    participants: tuple[str, ...]
    message_count: int
    first_time: datetime.datetime | None
    last_time: datetime.datetime | None
    action_items: tuple[ActionItem, ...]
    recent_messages: tuple[Message, ...]

    @classmethod
    def from_proto(cls, pb: mail_service_pb2.SummarizeThreadResponse) -> ThreadSummary:
        """Converts from the wire message."""
        return cls(
            thread_id=pb.thread_id,
            subject=pb.subject,
            participants=tuple(pb.participants),
            message_count=pb.message_count,
            first_time=_time(pb.first_time, pb.HasField("first_time")),
            last_time=_time(pb.last_time, pb.HasField("last_time")),
            action_items=tuple(ActionItem.from_proto(item) for item in pb.action_items),
            recent_messages=tuple(Message.from_proto(m) for m in pb.recent_messages),
        )

    def to_proto(self) -> mail_service_pb2.SummarizeThreadResponse:
        """Converts to the wire message."""
        return mail_service_pb2.SummarizeThreadResponse(
            thread_id=self.thread_id,
            subject=self.subject,
            participants=self.participants,
            message_count=self.message_count,
            first_time=_stamp(self.first_time),
            last_time=_stamp(self.last_time),
            action_items=[item.to_proto() for item in self.action_items],
            recent_messages=[m.to_proto() for m in self.recent_messages],
        )
