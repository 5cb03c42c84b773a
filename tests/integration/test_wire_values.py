"""Enum and timestamp fields of every request, found from the descriptors (so a field added
later is covered without editing this file): an unknown enum number fails with
UNKNOWN_ENUM_VALUE and an out-of-range timestamp with INVALID_TIMESTAMP, both INVALID_ARGUMENT
naming the field, never INTERNAL. Valid extreme timestamps work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
    search_service_pb2,
    search_service_pb2_grpc,
)
from google.protobuf import message_factory, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor

INVALID = grpc.StatusCode.INVALID_ARGUMENT
SERVICES = (
    (agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"], "AgentServiceStub"),
    (mail_service_pb2.DESCRIPTOR.services_by_name["MailService"], "MailServiceStub"),
    (search_service_pb2.DESCRIPTOR.services_by_name["SearchService"], "SearchServiceStub"),
)
STUB_MODULES = (agent_service_pb2_grpc, mail_service_pb2_grpc, search_service_pb2_grpc)
TIMESTAMP = timestamp_pb2.Timestamp.DESCRIPTOR.full_name
# 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range google.protobuf.Timestamp allows.
MIN_SECONDS = -62_135_596_800
MAX_SECONDS = 253_402_300_799
BAD_STAMPS = {
    "after year 9999": {"seconds": MAX_SECONDS + 1},
    "before year 1": {"seconds": MIN_SECONDS - 1},
    "far beyond int64 micros": {"seconds": 2**62},
    "negative nanos": {"nanos": -1},
    "nanos of a whole second": {"nanos": 1_000_000_000},
}


def _stub_class(service_name: str) -> Any:
    for module in STUB_MODULES:
        if hasattr(module, service_name):
            return getattr(module, service_name)
    raise AssertionError(service_name)


def _paths(message: Descriptor, wanted: Any, prefix: str = "") -> Iterator[str]:
    """Paths of the fields of ``message`` (nested messages included) that ``wanted`` picks."""
    for field in message.fields:
        path = f"{prefix}{field.name}"
        if wanted(field):
            yield path
        elif field.is_repeated:
            # A repeated message is a batch of items (SendMessages), each failing alone: its
            # items' wire errors are per-item results (tests/integration/test_send_messages.py).
            continue
        elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name not in (
            TIMESTAMP,
            "google.protobuf.FieldMask",
        ):
            yield from _paths(field.message_type, wanted, f"{path}.")


def _cases(wanted: Any) -> list[Any]:
    cases = []
    for service, stub_name in SERVICES:
        for method in service.methods:
            for path in _paths(method.input_type, wanted):
                cases.append(pytest.param(stub_name, method, path, id=f"{method.name}.{path}"))
    return cases


def _is_enum(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_ENUM


def _is_timestamp(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name == TIMESTAMP


ENUM_CASES = _cases(_is_enum)
TIMESTAMP_CASES = _cases(_is_timestamp)


def test_the_cases_cover_the_fields_the_contract_is_known_to_have() -> None:
    # Guards the generator itself: an empty parametrisation would pass vacuously.
    enums = {case.id for case in ENUM_CASES}
    assert {
        "SendMessage.importance",
        "ReplyMessage.importance",
        "ListInbox.order",
        "ListInbox.view",
        "ListOutbox.view",
        "GetThread.view",
        "SubscribeInbox.view",
        "SearchMessages.order",
        "SearchMessages.scope",
        "SearchMessages.min_importance",
        "SearchMessages.view",
    } <= enums
    stamps = {case.id for case in TIMESTAMP_CASES}
    assert {"SearchMessages.start_time", "SearchMessages.end_time"} <= stamps


def _request(method: MethodDescriptor) -> Any:
    return message_factory.GetMessageClass(method.input_type)()


def _target(request: Any, path: str) -> tuple[Any, str]:
    """The message holding the last field of ``path``, and that field's name."""
    *parents, name = path.split(".")
    for parent in parents:
        request = getattr(request, parent)
    return request, name


async def _call(channel: grpc.aio.Channel, stub_name: str, method: Any, request: Any, md: Any):
    rpc = getattr(_stub_class(stub_name)(channel), method.name)
    if method.server_streaming:
        stream = rpc(request, metadata=md)
        try:
            return await stream.read()
        finally:
            stream.cancel()
    return await rpc(request, metadata=md)


@pytest.mark.parametrize(("stub_name", "method", "path"), ENUM_CASES)
async def test_an_unknown_enum_value_is_rejected(
    channel, alice, expect_error, stub_name, method, path
):
    request = _request(method)
    holder, name = _target(request, path)
    setattr(holder, name, 99)  # proto3 enums are open: the wire carries any number

    failure = await expect_error(
        _call(channel, stub_name, method, request, alice.md),
        INVALID,
        "UNKNOWN_ENUM_VALUE",
        field=path,
    )
    assert "99" in failure.message


@pytest.mark.parametrize(("stub_name", "method", "path"), TIMESTAMP_CASES)
async def test_an_invalid_timestamp_is_rejected(
    channel, alice, expect_error, stub_name, method, path
):
    for label, fields in BAD_STAMPS.items():
        request = _request(method)
        holder, name = _target(request, path)
        stamp = getattr(holder, name)
        stamp.seconds = fields.get("seconds", 0)
        stamp.nanos = fields.get("nanos", 0)

        failure = await expect_error(
            _call(channel, stub_name, method, request, alice.md),
            INVALID,
            "INVALID_TIMESTAMP",
            field=path,
        )
        assert ("nanos" if "nanos" in fields else "seconds") in failure.message, label


@pytest.fixture
def search(channel: grpc.aio.Channel) -> Any:
    """``await search(agent, query, **fields)`` -> SearchMessagesResponse."""
    stub = search_service_pb2_grpc.SearchServiceStub(channel)

    async def _search(agent: Any, query: str, **fields: Any) -> Any:
        return await stub.SearchMessages(
            search_service_pb2.SearchMessagesRequest(query=query, **fields), metadata=agent.md
        )

    return _search


async def test_the_extreme_valid_timestamps_bound_a_search(send, search, alice, bob):
    sent = await send(alice, to=["Bob"], subject="ancient and future", body="")

    everything = await search(
        bob,
        "ancient",
        start_time=timestamp_pb2.Timestamp(seconds=MIN_SECONDS),
        end_time=timestamp_pb2.Timestamp(seconds=MAX_SECONDS, nanos=999_999_999),
    )
    nothing_yet = await search(
        bob, "ancient", start_time=timestamp_pb2.Timestamp(seconds=MAX_SECONDS)
    )
    nothing_before = await search(
        bob, "ancient", end_time=timestamp_pb2.Timestamp(seconds=MIN_SECONDS)
    )

    assert [hit.message.id for hit in everything.hits] == [sent.id]
    assert list(nothing_yet.hits) == []
    assert list(nothing_before.hits) == []


# The reported defects, each in an otherwise valid request (so nothing else can reject it).


@pytest.mark.parametrize("label", sorted(BAD_STAMPS))
async def test_a_valid_search_with_an_out_of_range_time_is_invalid_not_internal(
    send, search, alice, bob, expect_error, label
):
    await send(alice, to=["Bob"], subject="findable", body="")
    for field in ("start_time", "end_time"):
        await expect_error(
            search(bob, "findable", **{field: timestamp_pb2.Timestamp(**BAD_STAMPS[label])}),
            INVALID,
            "INVALID_TIMESTAMP",
            field=field,
        )


@pytest.mark.parametrize("field", ["order", "scope", "min_importance", "view"])
async def test_a_valid_search_with_an_unknown_enum_is_rejected(
    send, search, alice, bob, expect_error, field
):
    await send(alice, to=["Bob"], subject="findable", body="")
    await expect_error(
        search(bob, "findable", **{field: 7}), INVALID, "UNKNOWN_ENUM_VALUE", field=field
    )


async def test_an_inbox_page_with_an_unknown_order_is_rejected(mail, bob, expect_error):
    await expect_error(
        mail.ListInbox(mail_service_pb2.ListInboxRequest(order=3), metadata=bob.md),
        INVALID,
        "UNKNOWN_ENUM_VALUE",
        field="order",
    )


async def test_a_send_with_an_unknown_importance_is_rejected(mail, alice, expect_error):
    request = mail_service_pb2.SendMessageRequest(to=["Bob"], subject="s", importance=5)
    await expect_error(
        mail.SendMessage(request, metadata=alice.md),
        INVALID,
        "UNKNOWN_ENUM_VALUE",
        field="importance",
    )


async def test_a_raw_request_that_sets_nothing_gets_bodies_on_every_read(
    mail, search, send, alice, bob
):
    # What grpcurl, Go or Node send when the caller names no view: the wire default is FULL.
    stream = mail.SubscribeInbox(mail_service_pb2.SubscribeInboxRequest(), metadata=bob.md)
    try:
        caught_up = await stream.read()
        assert caught_up.WhichOneof("event") == "heartbeat"
        sent = await send(alice, to=["Bob"], subject="bodied", body="the body")
        event = await stream.read()
        while event.WhichOneof("event") != "item":
            event = await stream.read()
    finally:
        stream.cancel()
    inbox = await mail.ListInbox(mail_service_pb2.ListInboxRequest(), metadata=bob.md)
    outbox = await mail.ListOutbox(mail_service_pb2.ListOutboxRequest(), metadata=alice.md)
    thread = await mail.GetThread(
        mail_service_pb2.GetThreadRequest(thread_id=sent.thread_id), metadata=bob.md
    )
    found = await search(bob, "bodied")

    bodies = {
        "subscribe": event.item.message.body,
        "inbox": inbox.items[0].message.body,
        "outbox": outbox.messages[0].body,
        "thread": thread.messages[0].body,
        "search": found.hits[0].message.body,
    }
    assert bodies == dict.fromkeys(bodies, "the body")
