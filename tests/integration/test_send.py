"""SendMessage: the sender's view, validation limits, recipients, broadcast and idempotency."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import types_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
MIB = 1024 * 1024


def request(**fields) -> pb.SendMessageRequest:
    fields.setdefault("subject", "subject")
    fields.setdefault("body", "body")
    return pb.SendMessageRequest(**fields)


async def test_send_returns_the_senders_view(mail, project, alice, bob, carol):
    before = await mail.ListOutbox(pb.ListOutboxRequest(), metadata=alice.md)
    response = await mail.SendMessage(
        request(
            to=["BOB"],
            cc=["carol"],
            subject="Build broke",
            body="see **log** é",
            topic="ci",
            ack_required=True,
        ),
        metadata=alice.md,
    )

    message = response.message
    assert response.deduplicated is False
    assert list(before.messages) == []
    assert message.id > 0
    assert message.project == project
    assert message.sender == "Alice"
    assert list(message.to) == ["Bob"]
    assert list(message.cc) == ["Carol"]
    assert list(message.bcc) == []
    assert message.subject == "Build broke"
    assert message.body == "see **log** é"
    assert message.body_size_bytes == len("see **log** é".encode())
    assert message.importance == types_pb2.IMPORTANCE_NORMAL
    assert message.ack_required is True
    assert message.topic == "ci"
    assert message.thread_id == str(message.id)
    assert message.HasField("create_time")


async def test_send_delivers_to_each_recipient_with_its_kind(mail, alice, bob, carol, dave, ids):
    sent = (
        await mail.SendMessage(
            request(to=[bob.name], cc=[carol.name], bcc=[dave.name]), metadata=alice.md
        )
    ).message

    kinds = {}
    for agent in (bob, carol, dave):
        page = await mail.ListInbox(pb.ListInboxRequest(), metadata=agent.md)
        assert ids(page.items) == [sent.id]
        kinds[agent.name] = page.items[0].kind
    sender_inbox = await mail.ListInbox(pb.ListInboxRequest(), metadata=alice.md)

    assert kinds == {
        "Bob": types_pb2.RECIPIENT_KIND_TO,
        "Carol": types_pb2.RECIPIENT_KIND_CC,
        "Dave": types_pb2.RECIPIENT_KIND_BCC,
    }
    assert list(sender_inbox.items) == []


async def test_send_keeps_given_thread_importance_and_topic(mail, alice, bob):
    message = (
        await mail.SendMessage(
            request(
                to=[bob.name],
                thread_id="feature-x",
                importance=types_pb2.IMPORTANCE_URGENT,
                topic="deploy",
            ),
            metadata=alice.md,
        )
    ).message

    assert message.thread_id == "feature-x"
    assert message.importance == types_pb2.IMPORTANCE_URGENT
    assert message.topic == "deploy"


async def test_send_ids_grow_strictly_across_projects(mail, make_project, register, alice, bob):
    other = await make_project("/another/repo")
    xavier = await register(other, "Xavier")
    yolanda = await register(other, "Yolanda")

    sent = []
    for _ in range(3):
        for sender, recipient in ((alice, bob), (xavier, yolanda)):
            response = await mail.SendMessage(request(to=[recipient.name]), metadata=sender.md)
            sent.append(response.message)

    assert [m.id for m in sent] == sorted({m.id for m in sent})
    assert [m.project for m in sent[:2]] == [alice.project, other]


async def test_send_to_oneself_is_allowed(mail, alice, ids):
    message = (await mail.SendMessage(request(to=["alice"]), metadata=alice.md)).message
    inbox = await mail.ListInbox(pb.ListInboxRequest(), metadata=alice.md)

    assert list(message.to) == ["Alice"]
    assert ids(inbox.items) == [message.id]


@pytest.mark.parametrize("subject", ["s" * 200, "é" * 200, "日" * 200])
async def test_send_accepts_subject_of_200_characters(mail, alice, bob, subject):
    message = (
        await mail.SendMessage(request(to=[bob.name], subject=subject), metadata=alice.md)
    ).message

    assert message.subject == subject


@pytest.mark.parametrize("subject", ["s" * 201, "é" * 201])
async def test_send_rejects_subject_over_200_characters(mail, alice, bob, expect_error, subject):
    await expect_error(
        mail.SendMessage(request(to=[bob.name], subject=subject), metadata=alice.md),
        INVALID,
        "SUBJECT_TOO_LONG",
        field="subject",
    )


@pytest.mark.parametrize("subject", ["", "   ", "\t\n"])
async def test_send_requires_a_non_blank_subject(mail, alice, bob, expect_error, subject):
    await expect_error(
        mail.SendMessage(request(to=[bob.name], subject=subject), metadata=alice.md),
        INVALID,
        "INVALID_ARGUMENT",
        field="subject",
    )


@pytest.mark.parametrize(
    "body", ["x" * MIB, "é" * (MIB // 2), ""], ids=["ascii-1MiB", "2byte-1MiB", "empty"]
)
async def test_send_accepts_body_up_to_1_mib(mail, alice, bob, body):
    message = (await mail.SendMessage(request(to=[bob.name], body=body), metadata=alice.md)).message
    got = await mail.GetMessage(pb.GetMessageRequest(message_id=message.id), metadata=bob.md)

    assert message.body_size_bytes == len(body.encode())
    assert got.message.body == body


@pytest.mark.parametrize(
    "body", ["x" * (MIB + 1), "é" * (MIB // 2) + "x"], ids=["ascii", "counts-bytes-not-chars"]
)
async def test_send_rejects_body_over_1_mib(mail, alice, bob, expect_error, body):
    await expect_error(
        mail.SendMessage(request(to=[bob.name], body=body), metadata=alice.md),
        INVALID,
        "BODY_TOO_LARGE",
        field="body",
    )
    inbox = await mail.ListInbox(pb.ListInboxRequest(), metadata=bob.md)
    assert list(inbox.items) == []


@pytest.mark.parametrize(
    ("field", "limit"), [("thread_id", 128), ("topic", 64), ("idempotency_key", 128)]
)
async def test_send_limits_optional_field_lengths(mail, alice, bob, expect_error, field, limit):
    fits = await mail.SendMessage(request(to=[bob.name], **{field: "k" * limit}), metadata=alice.md)
    assert fits.message.id > 0

    await expect_error(
        mail.SendMessage(request(to=[bob.name], **{field: "k" * (limit + 1)}), metadata=alice.md),
        INVALID,
        "INVALID_ARGUMENT",
        field=field,
    )


async def test_send_without_recipients_is_rejected(mail, alice, expect_error):
    await expect_error(mail.SendMessage(request(), metadata=alice.md), INVALID, "NO_RECIPIENTS")


@pytest.mark.parametrize("kind", ["to", "cc", "bcc"])
async def test_send_broadcast_with_explicit_recipients_is_rejected(
    mail, alice, bob, expect_error, kind
):
    await expect_error(
        mail.SendMessage(request(broadcast=True, **{kind: [bob.name]}), metadata=alice.md),
        INVALID,
        "INVALID_ARGUMENT",
    )


async def test_send_to_unknown_recipients_names_all_missing(mail, alice, bob, expect_error):
    failure = await expect_error(
        mail.SendMessage(
            request(to=[bob.name, "ghost1"], cc=["Ghost2"], bcc=["phantom"]), metadata=alice.md
        ),
        grpc.StatusCode.NOT_FOUND,
        "RECIPIENT_NOT_FOUND",
    )

    assert sorted(failure.metadata["missing"].split(",")) == ["Ghost2", "ghost1", "phantom"]
    for name in ("ghost1", "Ghost2", "phantom"):
        assert name in failure.message
    inbox = await mail.ListInbox(pb.ListInboxRequest(), metadata=bob.md)
    assert list(inbox.items) == []


async def test_send_to_agent_of_another_project_is_not_found(
    mail, make_project, register, alice, expect_error
):
    other = await make_project("/other")
    await register(other, "Stranger")

    await expect_error(
        mail.SendMessage(request(to=["Stranger"]), metadata=alice.md),
        grpc.StatusCode.NOT_FOUND,
        "RECIPIENT_NOT_FOUND",
        metadata={"missing": "Stranger"},
    )


async def test_send_collapses_duplicates_to_most_visible_kind(
    mail, alice, bob, carol, dave, erin, read_inbox
):
    message = (
        await mail.SendMessage(
            request(
                to=["bob", "BOB", "Erin"],
                cc=["Bob", "carol", "Carol", "erin"],
                bcc=["carol", "dave", "DAVE", "erin"],
            ),
            metadata=alice.md,
        )
    ).message

    assert sorted(message.to) == ["Bob", "Erin"]
    assert list(message.cc) == ["Carol"]
    assert list(message.bcc) == ["Dave"]
    expected = {
        bob: types_pb2.RECIPIENT_KIND_TO,
        carol: types_pb2.RECIPIENT_KIND_CC,
        dave: types_pb2.RECIPIENT_KIND_BCC,
        erin: types_pb2.RECIPIENT_KIND_TO,
    }
    for agent, kind in expected.items():
        items = await read_inbox(agent)
        assert [(i.message.id, i.kind) for i in items] == [(message.id, kind)]


async def test_a_repeated_send_resolves_names_as_the_first_did(
    mail, alice, bob, carol, dave, erin, read_inbox
):
    # The second send finds every name text in the resolver's cache of given names: the
    # kinds, the order and the de-duplication must not change.
    fields = {
        "to": ["Erin", "bob", "BOB"],
        "cc": ["Bob", "carol", " Carol", "erin"],
        "bcc": ["carol", "dave", "DAVE"],
    }
    first = (await mail.SendMessage(request(**fields), metadata=alice.md)).message
    again = (await mail.SendMessage(request(**fields), metadata=alice.md)).message
    widened = (
        await mail.SendMessage(request(**{**fields, "to": ["dave"]}), metadata=alice.md)
    ).message

    assert (list(again.to), list(again.cc), list(again.bcc)) == (
        ["Erin", "Bob"],
        ["Carol"],
        ["Dave"],
    )
    assert (list(first.to), list(first.cc), list(first.bcc)) == (
        list(again.to),
        list(again.cc),
        list(again.bcc),
    )
    assert (list(widened.to), list(widened.cc), list(widened.bcc)) == (
        ["Dave"],
        ["Bob", "Carol", "Erin"],
        [],
    )
    items = await read_inbox(dave)
    assert [(i.message.id, i.kind) for i in items] == [
        (first.id, types_pb2.RECIPIENT_KIND_BCC),
        (again.id, types_pb2.RECIPIENT_KIND_BCC),
        (widened.id, types_pb2.RECIPIENT_KIND_TO),
    ]


async def register_many(register, project: str, count: int) -> list:
    agents = []
    for start in range(0, count, 50):
        agents += await asyncio.gather(
            *(register(project, f"r{i:04d}") for i in range(start, min(start + 50, count)))
        )
    return agents


async def test_send_accepts_1000_recipients_and_rejects_1001(
    mail, project, register, alice, expect_error, ids
):
    recipients = await register_many(register, project, 1001)
    names = [r.name for r in recipients]

    ok = await mail.SendMessage(
        request(to=names[:600], cc=names[600:1000], bcc=[n.upper() for n in names[:10]]),
        metadata=alice.md,
    )
    await expect_error(
        mail.SendMessage(request(to=names[:500], cc=names[500:]), metadata=alice.md),
        INVALID,
        "TOO_MANY_RECIPIENTS",
    )

    assert len(ok.message.to) + len(ok.message.cc) == 1000
    assert set(ok.message.to) | set(ok.message.cc) == set(names[:1000])
    assert list(ok.message.bcc) == []
    for agent in (recipients[0], recipients[999]):
        page = await mail.ListInbox(pb.ListInboxRequest(), metadata=agent.md)
        assert ids(page.items) == [ok.message.id]
    last = await mail.ListInbox(pb.ListInboxRequest(), metadata=recipients[1000].md)
    assert list(last.items) == []


async def test_broadcast_addresses_every_other_agent_in_registration_order(
    mail, make_project, register, read_inbox
):
    slug = await make_project("/broadcast")
    # Neither alphabetical (either case rule) nor reverse: only registration order fits.
    order = ["bo", "Zed", "Mia", "amy"]
    agents = [await register(slug, name) for name in order]
    elsewhere = await register(await make_project("/elsewhere"), "Outsider")

    message = (await mail.SendMessage(request(broadcast=True), metadata=agents[2].md)).message

    assert list(message.to) == ["bo", "Zed", "amy"]
    assert list(message.cc) == list(message.bcc) == []
    for agent in (agents[0], agents[1], agents[3]):
        items = await read_inbox(agent)
        assert [(i.message.id, i.kind) for i in items] == [
            (message.id, types_pb2.RECIPIENT_KIND_TO)
        ]
    assert await read_inbox(agents[2]) == []
    assert await read_inbox(elsewhere) == []


async def test_broadcast_alone_in_project_fails_precondition(
    mail, make_project, register, expect_error
):
    lonely = await register(await make_project("/lonely"), "Solo")

    await expect_error(
        mail.SendMessage(request(broadcast=True), metadata=lonely.md),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_BROADCAST_RECIPIENTS",
    )


async def test_idempotent_resend_returns_original_and_delivers_once(mail, alice, bob, read_inbox):
    first = await mail.SendMessage(
        request(to=[bob.name], subject="once", idempotency_key="k-1"), metadata=alice.md
    )
    again = await mail.SendMessage(
        request(to=[bob.name], subject="once", idempotency_key="k-1"), metadata=alice.md
    )
    other_key = await mail.SendMessage(
        request(to=[bob.name], subject="once", idempotency_key="k-2"), metadata=alice.md
    )

    assert first.deduplicated is False
    assert again.deduplicated is True
    assert again.message == first.message
    assert other_key.deduplicated is False
    assert other_key.message.id > first.message.id
    items = await read_inbox(bob)
    assert [i.message.id for i in items] == [first.message.id, other_key.message.id]
    outbox = await mail.ListOutbox(pb.ListOutboxRequest(), metadata=alice.md)
    assert sorted(m.id for m in outbox.messages) == [first.message.id, other_key.message.id]


async def test_idempotency_keys_are_per_sender(mail, alice, bob, carol, read_inbox):
    from_alice = await mail.SendMessage(
        request(to=[carol.name], idempotency_key="shared"), metadata=alice.md
    )
    from_bob = await mail.SendMessage(
        request(to=[carol.name], idempotency_key="shared"), metadata=bob.md
    )

    assert from_bob.deduplicated is False
    assert from_bob.message.id != from_alice.message.id
    assert from_bob.message.sender == "Bob"
    items = await read_inbox(carol)
    assert [i.message.id for i in items] == [from_alice.message.id, from_bob.message.id]


async def test_send_without_idempotency_key_never_deduplicates(mail, alice, bob, read_inbox):
    responses = [
        await mail.SendMessage(request(to=[bob.name], subject="same"), metadata=alice.md)
        for _ in range(3)
    ]

    assert [r.deduplicated for r in responses] == [False, False, False]
    assert len({r.message.id for r in responses}) == 3
    assert len(await read_inbox(bob)) == 3


async def test_request_over_the_receive_limit_is_resource_exhausted(mail, alice, bob):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mail.SendMessage(request(to=[bob.name], body="x" * (9 * MIB)), metadata=alice.md)

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
