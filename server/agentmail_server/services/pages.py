"""What every paged listing of messages shares."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TypeVar

from agentmail_server.domain import limits
from agentmail_server.domain.inbox_rows import BODY, BODY_SIZE, InboxRow
from agentmail_server.domain.models import Message

T = TypeVar("T")

_body_size = operator.itemgetter(BODY_SIZE)


def within_body_budget(items: list[T], message_of: Callable[[T], Message]) -> list[T]:
    """The longest prefix whose bodies fit the page budget (always at least one item), so a
    page of large bodies always fits the channel's message limit."""
    total = 0
    for index, item in enumerate(items):
        message = message_of(item)
        total += message.body_size if message.body is not None else 0
        if index and total > limits.PAGE_BODY_BUDGET_BYTES:
            return items[:index]
    return items


def rows_within_body_budget(rows: list[InboxRow]) -> list[InboxRow]:
    """:func:`within_body_budget` of inbox wire rows: on a page of small bodies (nearly all),
    one sum over the page and no copy."""
    # Every row's body size, with or without its body, bounds the page's body bytes from
    # above: when that fits, the page does (a sum in C instead of a generator over the page).
    if sum(map(_body_size, rows)) <= limits.PAGE_BODY_BUDGET_BYTES:
        return rows
    total = 0
    for index, row in enumerate(rows):
        total += row[BODY_SIZE] if row[BODY] is not None else 0
        if index and total > limits.PAGE_BODY_BUDGET_BYTES:
            return rows[:index]
    return rows
