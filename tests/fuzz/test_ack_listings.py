"""Properties of the acknowledgement listings under random paging: whatever the page size, order,
overdue filter and threshold, following ``next_page_token`` visits exactly the messages of one
big page, in the same order, each once; and every pending entry names only recipients that have
not acknowledged (checked against the sender's receipts)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from agentmail.v1 import mail_service_pb2, mail_service_pb2_grpc
from agentmail.v1 import receipts_pb2 as rpb
from hypothesis import given
from hypothesis import strategies as st

from ._world import md
from .conftest import Fuzz

pytestmark = pytest.mark.asyncio(loop_scope="module")

ORDERS = (rpb.ACK_ORDER_UNSPECIFIED, rpb.ACK_ORDER_OLDEST_FIRST, rpb.ACK_ORDER_NEWEST_FIRST)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def acked_world(fuzz: Fuzz) -> Fuzz:
    """The fuzz world plus a dozen ack-required messages from Alice to Bob and Carol, some
    acknowledged by one of them or both, all in the same microsecond or not."""
    mail = mail_service_pb2_grpc.MailServiceStub(fuzz.channel)
    tokens = fuzz.world.tokens
    for index in range(12):
        sent = await mail.SendMessage(
            mail_service_pb2.SendMessageRequest(
                to=["Bob"], cc=["Carol"], subject=f"ack {index}", ack_required=True
            ),
            metadata=md(tokens["Alice"]),
        )
        for reader, every in (("Bob", 2), ("Carol", 3)):
            if index % every == 0:
                await mail.AcknowledgeMessage(
                    mail_service_pb2.AcknowledgeMessageRequest(message_ids=[sent.message.id]),
                    metadata=md(tokens[reader]),
                )
    return fuzz


async def _pages(call: Any, request: Any, metadata: Any) -> list[list[int]]:
    """The message ids of each page, following the tokens from ``request`` to the end."""
    pages: list[list[int]] = []
    while True:
        response = await call(request, metadata=metadata)
        pages.append([item.message.id for item in response.items])
        if not response.next_page_token:
            return pages
        request.page_token = response.next_page_token


@given(
    page_size=st.integers(1, 7),
    order=st.sampled_from(ORDERS),
    overdue_only=st.booleans(),
    overdue_seconds=st.sampled_from([0, 1, 3600, 315_360_000]),
    sender=st.sampled_from(["Alice", "Bob", "Carol"]),
)
async def test_pending_acks_pages_add_up_to_the_whole_listing(
    acked_world: Fuzz,
    page_size: int,
    order: int,
    overdue_only: bool,
    overdue_seconds: int,
    sender: str,
) -> None:
    mail = mail_service_pb2_grpc.MailServiceStub(acked_world.channel)
    auth = md(acked_world.world.tokens[sender])
    fields = {"order": order, "overdue_only": overdue_only, "overdue_seconds": overdue_seconds}

    whole = await mail.ListPendingAcks(
        rpb.ListPendingAcksRequest(page_size=500, **fields), metadata=auth
    )
    pages = await _pages(
        mail.ListPendingAcks, rpb.ListPendingAcksRequest(page_size=page_size, **fields), auth
    )

    expected = [item.message.id for item in whole.items]
    assert [mid for page in pages for mid in page] == expected
    assert all(len(page) <= page_size for page in pages)
    for item in whole.items:
        got = await mail.GetMessage(
            mail_service_pb2.GetMessageRequest(message_id=item.message.id), metadata=auth
        )
        owing = [r.recipient for r in got.receipts if not r.HasField("ack_time")]
        assert [r.recipient for r in item.pending] == owing and owing
        assert item.acknowledged_count == len(got.receipts) - len(owing)


@given(page_size=st.integers(1, 7), reader=st.sampled_from(["Alice", "Bob", "Carol"]))
async def test_unacknowledged_pages_add_up_to_the_whole_listing(
    acked_world: Fuzz, page_size: int, reader: str
) -> None:
    mail = mail_service_pb2_grpc.MailServiceStub(acked_world.channel)
    auth = md(acked_world.world.tokens[reader])

    whole = await mail.ListUnacknowledged(
        rpb.ListUnacknowledgedRequest(page_size=500), metadata=auth
    )
    pages = await _pages(
        mail.ListUnacknowledged, rpb.ListUnacknowledgedRequest(page_size=page_size), auth
    )

    expected = [item.message.id for item in whole.items]
    assert expected == sorted(set(expected))
    assert [mid for page in pages for mid in page] == expected
    assert all(item.message.ack_required and not item.HasField("ack_time") for item in whole.items)
