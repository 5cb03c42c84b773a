"""Pages built in one pass (an inbox page from wire rows, a search page from nested dicts) equal
the pages built message by message, and cursors sealed in one go equal those sealed one by one."""

from __future__ import annotations

from agentmail.v1 import mail_service_pb2
from agentmail_server.domain import cursors
from agentmail_server.domain.models import Delivery, Importance, Message, RecipientKind
from agentmail_server.rpc import convert
from hypothesis import given, settings
from hypothesis import strategies as st

_NAMES = st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True), max_size=3)
_MICROS = st.integers(min_value=0, max_value=253402300799 * 1_000_000)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    body = draw(st.one_of(st.none(), st.text(max_size=40)))
    return Message(
        id=draw(st.integers(min_value=1, max_value=2**62)),
        project_id=1,
        sender_id=draw(st.integers(min_value=1, max_value=9)),
        sender_name=draw(st.text(max_size=10)),
        thread_id=draw(st.text(max_size=10)),
        subject=draw(st.text(max_size=20)),
        body=body,
        body_size=draw(st.integers(min_value=0, max_value=2**20)),
        importance=draw(st.sampled_from(list(Importance))),
        ack_required=draw(st.booleans()),
        topic=draw(st.text(max_size=10)),
        to=tuple(draw(_NAMES)),
        cc=tuple(draw(_NAMES)),
        bcc=tuple(draw(_NAMES)),
        created_at=draw(_MICROS),
    )


def _wire_row(message: Message, delivery: Delivery, viewer_id: int, viewer: str) -> tuple:
    """The storage's wire row of an inbox item, its bcc view left to SQL there (the same
    rule as ``seen_by``, which the integration tests check on both backends)."""
    seen = message.seen_by(viewer_id, viewer, delivery.kind)
    return (
        message.id,
        message.thread_id,
        message.sender_name,
        ",".join(message.to),
        ",".join(message.cc),
        ",".join(seen.bcc),
        message.subject,
        message.body,
        int(message.importance),
        int(message.ack_required),  # SQLite's 0/1 (PostgreSQL gives a bool)
        message.topic,
        message.created_at,
        message.body_size,
        int(delivery.kind),
        delivery.read_at,
        delivery.ack_at,
    )


# No deadline: a loaded machine (the suite runs beside benchmarks) can stall one example.
@settings(deadline=None)
@given(
    message=messages(),
    kind=st.sampled_from(list(RecipientKind)),
    read_at=st.one_of(st.none(), _MICROS),
    ack_at=st.one_of(st.none(), _MICROS),
    cursor=st.text(max_size=30),
    viewer_id=st.integers(min_value=1, max_value=9),
)
def test_an_inbox_page_built_from_wire_rows_equals_one_built_item_by_item(
    message: Message,
    kind: RecipientKind,
    read_at: int | None,
    ack_at: int | None,
    cursor: str,
    viewer_id: int,
) -> None:
    delivery = Delivery(message.id, kind, read_at, ack_at)
    row = _wire_row(message, delivery, viewer_id, "Viewer")
    built = convert.inbox_response([row], [cursor], "proj", "next")
    seen = message.seen_by(viewer_id, "Viewer", kind)
    expected = mail_service_pb2.ListInboxResponse(
        items=[convert.inbox_item_pb(seen, delivery, "proj", cursor)], next_page_token="next"
    )
    assert built == expected
    assert built.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )


@given(positions=st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=20))
def test_cursors_sealed_together_equal_cursors_sealed_one_by_one(positions: list[int]) -> None:
    codec = cursors.CursorCodec(bytes(range(64)))
    together = codec.encode_each(cursors.INBOX_ASC, (7,), positions)
    assert together == [codec.encode(cursors.INBOX_ASC, (7,), p) for p in positions]
    assert [codec.decode(token, cursors.INBOX_ASC, (7,)) for token in together] == positions
