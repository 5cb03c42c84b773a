"""Conversion between the wire messages and the client's models."""

import datetime

import agentmail_client as am
from agentmail.v1 import mail_service_pb2, receipts_pb2, search_service_pb2, types_pb2

WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)


def test_message_round_trips_and_keeps_tuples() -> None:
    message = am.Message(
        id=7,
        project="demo",
        thread_id="7",
        sender="Alice",
        to=("Bob",),
        cc=("Carol",),
        bcc=(),
        subject="Hi",
        body="**hello**",
        importance=am.Importance.URGENT,
        ack_required=True,
        topic="ci",
        create_time=WHEN,
        body_size_bytes=9,
    )
    assert am.Message.from_proto(message.to_proto()) == message
    hash(message)  # frozen models are hashable


def test_unset_timestamps_become_none_and_set_ones_are_aware() -> None:
    item = am.InboxItem.from_proto(
        types_pb2.InboxItem(message=types_pb2.Message(id=1), kind=types_pb2.RECIPIENT_KIND_BCC)
    )
    assert item.read_time is None
    assert item.ack_time is None
    assert not item.is_read
    assert item.kind is am.RecipientKind.BCC
    state = am.DeliveryState(message_id=1, read_time=WHEN, ack_time=None)
    back = am.DeliveryState.from_proto(state.to_proto())
    assert back == state
    assert back.read_time is not None
    assert back.read_time.tzinfo is not None


def test_unspecified_importance_reads_as_normal() -> None:
    message = am.Message.from_proto(types_pb2.Message(importance=types_pb2.IMPORTANCE_UNSPECIFIED))
    assert message.importance is am.Importance.NORMAL


def test_inbox_order_maps_to_the_wire_enum() -> None:
    assert am.InboxOrder.OLDEST_FIRST.to_proto() == mail_service_pb2.INBOX_ORDER_OLDEST_FIRST
    assert am.InboxOrder.NEWEST_FIRST.to_proto() == mail_service_pb2.INBOX_ORDER_NEWEST_FIRST


def test_agent_and_project_round_trip() -> None:
    agent = am.Agent("demo", "Alice", "claude-code", "opus", "fix CI", WHEN, WHEN)
    assert am.Agent.from_proto(agent.to_proto()) == agent
    project = am.Project("demo", "/srv/demo", WHEN)
    assert am.Project.from_proto(project.to_proto()) == project


def test_page_iterates_its_items() -> None:
    page = am.Page((1, 2, 3), "next")
    assert list(page) == [1, 2, 3]
    assert len(page) == 3


def test_search_hit_and_thread_summary_round_trip() -> None:
    message = am.Message.from_proto(types_pb2.Message(id=3, thread_id="T", subject="Deploy"))
    hit = am.SearchHit(message, "[Deploy]", 1.5)
    assert am.SearchHit.from_proto(hit.to_proto()) == hit
    summary = am.ThreadSummary(
        thread_id="T",
        subject="Deploy",
        participants=("Alice", "Bob"),
        message_count=1,
        first_time=WHEN,
        last_time=WHEN,
        action_items=(am.ActionItem(3, "Alice", "tag it", "checkbox"),),
        recent_messages=(message,),
    )
    assert am.ThreadSummary.from_proto(summary.to_proto()) == summary
    hash(summary)
    unset = am.ThreadSummary.from_proto(mail_service_pb2.SummarizeThreadResponse())
    assert (unset.first_time, unset.last_time) == (None, None)


def test_search_order_and_scope_map_to_the_wire_enums() -> None:
    assert am.SearchOrder.RELEVANCE.to_proto() == search_service_pb2.SEARCH_ORDER_RELEVANCE
    assert am.SearchOrder.NEWEST.to_proto() == search_service_pb2.SEARCH_ORDER_NEWEST
    assert am.SearchScope.ALL.to_proto() == search_service_pb2.SEARCH_SCOPE_ALL
    assert am.SearchScope.SENT.to_proto() == search_service_pb2.SEARCH_SCOPE_SENT
    assert am.SearchScope.RECEIVED.to_proto() == search_service_pb2.SEARCH_SCOPE_RECEIVED


def test_receipts_and_pending_acks_round_trip() -> None:
    receipt = am.Receipt("Bob", am.RecipientKind.BCC, WHEN, WHEN, None)
    assert am.Receipt.from_proto(receipt.to_proto()) == receipt
    assert (receipt.is_read, receipt.is_acknowledged) == (True, False)
    entry = am.MessageReceipts(7, (receipt,))
    assert am.MessageReceipts.from_proto(entry.to_proto()) == entry
    message = am.Message.from_proto(types_pb2.Message(id=7, to=["Bob"]))
    pending = am.PendingAck(message, (receipt,), acknowledged_count=2, overdue=True)
    assert am.PendingAck.from_proto(pending.to_proto()) == pending
    hash(pending)
    unset = am.Receipt.from_proto(receipts_pb2.Receipt(recipient="Carol"))
    assert (unset.kind, unset.deliver_time, unset.read_time) == (am.RecipientKind.TO, None, None)


def test_ack_order_maps_to_the_wire_enum() -> None:
    assert am.AckOrder.OLDEST_FIRST.to_proto() == receipts_pb2.ACK_ORDER_OLDEST_FIRST
    assert am.AckOrder.NEWEST_FIRST.to_proto() == receipts_pb2.ACK_ORDER_NEWEST_FIRST
