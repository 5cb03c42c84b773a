"""Integration fixtures: one project with five agents registered in a known order, and helpers
to send mail and to read a whole inbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from agentmail.v1 import mail_service_pb2, types_pb2


@pytest.fixture
def agents(agent_stub: Any) -> Any:
    """AgentService stub."""
    return agent_stub


@pytest.fixture
def mail(mail_stub: Any) -> Any:
    """MailService stub."""
    return mail_stub


@pytest.fixture
def send(mail: Any) -> Callable[..., Awaitable[types_pb2.Message]]:
    """``await send(sender, to=[...], subject=..., ...)`` -> the sender's view of the message."""

    async def _send(sender: Any, **fields: Any) -> types_pb2.Message:
        fields.setdefault("subject", "hello")
        fields.setdefault("body", "body text")
        response = await mail.SendMessage(
            mail_service_pb2.SendMessageRequest(**fields), metadata=sender.md
        )
        assert not response.deduplicated
        return response.message

    return _send


@pytest.fixture
def send_many(send: Callable[..., Awaitable[types_pb2.Message]]) -> Callable[..., Awaitable[list]]:
    """``await send_many(sender, count, batch=50, **fields)``: ``count`` messages whose subjects
    are ``"m<i>"``, sent in concurrent batches; returns them in sending order."""

    async def _send_many(sender: Any, count: int, batch: int = 50, **fields: Any) -> list:
        sent: list[types_pb2.Message] = []
        for start in range(0, count, batch):
            stop = min(start + batch, count)
            sent += await asyncio.gather(
                *(send(sender, subject=f"m{i}", **fields) for i in range(start, stop))
            )
        return sent

    return _send_many


@pytest.fixture
def read_inbox(mail: Any) -> Callable[..., Awaitable[list[types_pb2.InboxItem]]]:
    """``await read_inbox(agent, page_size=..., **filters)``: every item, paging oldest first
    until an empty page, asserting each non-empty page hands out a token."""

    async def _read(agent: Any, page_size: int = 100, **filters: Any) -> list:
        items: list[types_pb2.InboxItem] = []
        token = ""
        for _ in range(10_000):
            page = await mail.ListInbox(
                mail_service_pb2.ListInboxRequest(page_size=page_size, page_token=token, **filters),
                metadata=agent.md,
            )
            if not page.items:
                assert page.next_page_token == ""
                return items
            assert page.next_page_token
            # Fail at once on a repeated or out-of-order item instead of paging forever.
            last = items[-1].message.id if items else 0
            page_ids = [i.message.id for i in page.items]
            assert page_ids == sorted(page_ids) and page_ids[0] > last, (last, page_ids)
            items += page.items
            token = page.next_page_token
        raise AssertionError("inbox paging never reached an empty page")

    return _read


def ids(messages: Sequence[Any]) -> list[int]:
    """Ids of messages or of inbox items."""
    return [m.message.id if isinstance(m, types_pb2.InboxItem) else m.id for m in messages]


@pytest.fixture(name="ids")
def ids_fixture() -> Callable[[Sequence[Any]], list[int]]:
    """``ids(messages_or_items)``."""
    return ids
