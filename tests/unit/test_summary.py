"""The thread summary builder: action items found in bodies, participants in order of first
appearance, counts, time span and the bounded list of recent messages."""

from __future__ import annotations

import dataclasses

import pytest
from agentmail_server.domain import summary
from agentmail_server.domain.models import Importance, Message
from agentmail_server.domain.summary import ActionItem, SummaryBuilder, action_items


def message(
    id_: int,
    sender: str = "Alice",
    body: str | None = "",
    to: tuple[str, ...] = ("Bob",),
    cc: tuple[str, ...] = (),
    bcc: tuple[str, ...] = (),
    subject: str = "subject",
) -> Message:
    return Message(
        id=id_,
        project_id=1,
        sender_id=1,
        sender_name=sender,
        thread_id="t",
        subject=subject,
        body=body,
        body_size=len((body or "").encode()),
        importance=Importance.NORMAL,
        ack_required=False,
        topic="",
        to=to,
        cc=cc,
        bcc=bcc,
        created_at=1_000 * id_,
    )


def items(body: str) -> list[tuple[str, str]]:
    return [(item.kind, item.text) for item in action_items(message(7, body=body))]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("- [ ] write tests", [("checkbox", "write tests")]),
        ("* [ ] write tests", [("checkbox", "write tests")]),
        ("+ [ ] write tests", [("checkbox", "write tests")]),
        ("1. [ ] write tests", [("checkbox", "write tests")]),
        ("12) [ ] write tests", [("checkbox", "write tests")]),
        ("    - [ ] indented   ", [("checkbox", "indented")]),
        ("- [ ] TODO: both", [("checkbox", "TODO: both")]),
        ("- [x] done", []),
        ("- [X] done", []),
        ("- [x] TODO: finished already", []),
        ("* [X] ACTION: handled", []),
        ("- [] not a box", []),
        ("-[ ] no space after the bullet", []),
        ("- [ ]", []),
        ("[ ] no bullet", []),
        ("TODO: rotate keys", [("TODO", "TODO: rotate keys")]),
        ("  TODO rotate keys  ", [("TODO", "TODO rotate keys")]),
        ("we still need to TODO this", [("TODO", "we still need to TODO this")]),
        ("(TODO) later", [("TODO", "(TODO) later")]),
        ("ACTION: Bob reviews", [("ACTION", "ACTION: Bob reviews")]),
        ("BLOCKED on infra", [("BLOCKED", "BLOCKED on infra")]),
        ("BLOCKED: waiting; TODO after", [("BLOCKED", "BLOCKED: waiting; TODO after")]),
        ("TODOS are not markers", []),
        ("this is actionable", []),
        ("ACTIONABLE", []),
        ("UNBLOCKED now", []),
        ("XTODO", []),
        ("todo lower case", []),
        ("nothing here", []),
        ("", []),
    ],
)
def test_action_items_in_a_line(line: str, expected: list[tuple[str, str]]) -> None:
    assert items(line) == expected


def test_action_items_keep_line_order_and_name_message_and_author() -> None:
    body = "intro\n- [ ] one\nTODO two\n- [x] three\r\nACTION four\r\n1. [ ] five\n"
    found = action_items(message(9, sender="Carol", body=body))
    assert found == [
        ActionItem(9, "Carol", "one", "checkbox"),
        ActionItem(9, "Carol", "TODO two", "TODO"),
        ActionItem(9, "Carol", "ACTION four", "ACTION"),
        ActionItem(9, "Carol", "five", "checkbox"),
    ]


def test_action_item_text_is_capped() -> None:
    [item] = action_items(message(1, body="TODO " + "x" * 1000))
    assert len(item.text) == summary.MAX_ITEM_CHARS
    [box] = action_items(message(1, body="- [ ] " + "y" * 1000))
    assert box.text == "y" * summary.MAX_ITEM_CHARS


def test_a_message_without_body_has_no_items() -> None:
    assert action_items(message(1, body=None)) == []


def test_empty_builder_builds_nothing() -> None:
    assert SummaryBuilder("t", 3).build() is None


def test_summary_of_a_thread() -> None:
    builder = SummaryBuilder("t", 2)
    first = message(1, "Alice", "- [ ] a", to=("Bob",), cc=("Carol",), bcc=("Dave",), subject="S1")
    second = message(2, "Bob", "TODO b", to=("Alice", "Erin"), subject="Re: S1")
    third = message(3, "Erin", "fine", to=("Bob",), cc=("Alice",), subject="Re: S1")
    for m in (first, second, third):
        builder.add(m)
    built = builder.build()
    assert built is not None
    assert built.thread_id == "t"
    assert built.subject == "S1"
    assert built.participants == ("Alice", "Bob", "Carol", "Dave", "Erin")
    assert built.message_count == 3
    assert (built.first_at, built.last_at) == (1_000, 3_000)
    assert built.action_items == (
        ActionItem(1, "Alice", "a", "checkbox"),
        ActionItem(2, "Bob", "TODO b", "TODO"),
    )
    assert built.recent == (second, third)


def test_participants_are_only_the_names_in_the_messages_given() -> None:
    """The builder sees messages already in the reader's view: no hidden bcc to leak."""
    builder = SummaryBuilder("t", 3)
    builder.add(message(1, "Alice", to=("Bob",), bcc=()))
    built = builder.build()
    assert built is not None
    assert built.participants == ("Alice", "Bob")


@pytest.mark.parametrize(
    ("recent_count", "kept"), [(0, []), (1, [5]), (3, [3, 4, 5]), (20, [1, 2, 3, 4, 5])]
)
def test_recent_keeps_the_latest_messages_oldest_first(recent_count: int, kept: list[int]) -> None:
    builder = SummaryBuilder("t", recent_count)
    for i in range(1, 6):
        builder.add(message(i))
    built = builder.build()
    assert built is not None
    assert [m.id for m in built.recent] == kept
    assert built.message_count == 5


def test_action_items_are_capped_across_the_thread() -> None:
    builder = SummaryBuilder("t", 3)
    for i in range(1, 31):
        builder.add(message(i, body="\n".join(f"- [ ] item {i}.{j}" for j in range(10))))
    built = builder.build()
    assert built is not None
    assert len(built.action_items) == summary.MAX_ACTION_ITEMS
    assert built.action_items[0].text == "item 1.0"
    assert built.action_items[-1].text == "item 10.9"
    assert built.message_count == 30


def test_recent_stays_bounded_however_long_the_thread() -> None:
    builder = SummaryBuilder("t", 2)
    big = "z" * 10_000
    for i in range(1, 101):
        builder.add(dataclasses.replace(message(i), body=big))
    built = builder.build()
    assert built is not None
    assert [m.id for m in built.recent] == [99, 100]
