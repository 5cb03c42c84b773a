"""A search page built straight from hit rows equals the page built from the same message's
reader view, hit by hit (``convert.message_pb`` of ``Message.seen_by``), for every viewer: the
sender, a bcc recipient and anyone else. The rows are read through the storage's
``hit_columns`` SQL from a real SQLite table, so its bcc view is checked against ``seen_by``."""

from __future__ import annotations

import sqlite3

from agentmail.v1 import search_service_pb2
from agentmail_server.domain import search_hits
from agentmail_server.domain.models import Importance, Message, RecipientKind
from agentmail_server.rpc import convert, search_wire
from agentmail_server.storage.search_filters import hit_columns
from agentmail_server.storage.sqlite.rows import join_names
from hypothesis import given
from hypothesis import strategies as st

_NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)
_NAMES = st.lists(_NAME, max_size=3)
_MICROS = st.integers(min_value=0, max_value=253402300799 * 1_000_000)
_KINDS = st.one_of(st.none(), st.sampled_from(list(RecipientKind)))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    return Message(
        id=draw(st.integers(min_value=1, max_value=2**62)),
        project_id=1,
        sender_id=draw(st.integers(min_value=1, max_value=3)),
        sender_name=draw(st.text(max_size=10)),
        thread_id=draw(st.text(max_size=10)),
        subject=draw(st.text(max_size=20)),
        body=draw(st.one_of(st.none(), st.text(max_size=40))),
        body_size=draw(st.integers(min_value=0, max_value=2**20)),
        importance=draw(st.sampled_from(list(Importance))),
        ack_required=draw(st.booleans()),
        topic=draw(st.text(max_size=10)),
        to=tuple(draw(_NAMES)),
        cc=tuple(draw(_NAMES)),
        bcc=tuple(draw(_NAMES)),
        created_at=draw(_MICROS),
    )


def _row(
    message: Message, viewer_id: int, viewer_name: str, kind: int | None, snippet: str
) -> search_hits.HitRow:
    """The HitRow a backend returns to the viewer for ``message``: its columns up to the body
    read by ``hit_columns`` from a real SQLite row, then the body, snippet and score."""
    conn = sqlite3.connect(":memory:")
    columns = (
        "id, sender_id, sender_name, thread_id, subject, importance, ack_required, topic,"
        " to_names, cc_names, bcc_names, created_at, body_size"
    )
    conn.execute(f"CREATE TABLE messages ({columns})")
    conn.execute("CREATE TABLE deliveries (kind)")
    conn.execute(
        f"INSERT INTO messages ({columns}) VALUES ({','.join('?' * 13)})",
        (
            message.id,
            message.sender_id,
            message.sender_name,
            message.thread_id,
            message.subject,
            int(message.importance),
            int(message.ack_required),
            message.topic,
            join_names(message.to),
            join_names(message.cc),
            join_names(message.bcc),
            message.created_at,
            message.body_size,
        ),
    )
    conn.execute("INSERT INTO deliveries VALUES (?)", (kind,))
    head = conn.execute(
        f"SELECT {hit_columns('?')} FROM messages m, deliveries d", (viewer_id, viewer_name)
    ).fetchone()
    row = (*head, message.body, snippet, 0)
    assert len(row) == search_hits.SCORE + 1
    return row


@given(
    message=messages(),
    viewer_id=st.integers(min_value=1, max_value=3),
    viewer_name=_NAME,
    kind=_KINDS,
    snippet=st.text(max_size=30),
    score=st.floats(allow_nan=False),
)
def test_a_page_built_from_rows_equals_one_built_from_the_readers_view(
    message: Message,
    viewer_id: int,
    viewer_name: str,
    kind: RecipientKind | None,
    snippet: str,
    score: float,
) -> None:
    row = _row(message, viewer_id, viewer_name, None if kind is None else int(kind), snippet)
    built = search_wire.search_response([row], [score], "proj", "next")
    view = message.seen_by(viewer_id, viewer_name, kind)
    expected = search_service_pb2.SearchMessagesResponse(
        hits=[
            search_service_pb2.SearchHit(
                message=convert.message_pb(view, "proj"), snippet=snippet, score=score
            )
        ],
        next_page_token="next",
    )
    assert built == expected
    assert built.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )
