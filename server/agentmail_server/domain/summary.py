"""Thread summaries computed from the messages themselves, without any language model."""

from __future__ import annotations

import collections
import dataclasses
import re

from agentmail_server.domain.models import Message

# "- [ ] do x" / "* [ ] do x" / "1. [ ] do x": an unchecked checkbox is an open item.
_CHECKBOX = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[ \]\s+(?P<text>\S.*)$")
# "- [x] done" is a closed item, even when it still carries a marker word.
_CHECKED = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[[xX]\]")
# TODO / ACTION / BLOCKED as a marker word, e.g. "TODO: rotate keys" or "BLOCKED on review".
_MARKER = re.compile(r"(?<![A-Za-z])(?P<kind>TODO|ACTION|BLOCKED)(?![A-Za-z])")
MAX_ACTION_ITEMS = 100
MAX_ITEM_CHARS = 300


@dataclasses.dataclass(frozen=True)
class ActionItem:
    """An open action item: which message, who wrote it, the line and its kind."""

    message_id: int
    author: str
    text: str
    kind: str


@dataclasses.dataclass(frozen=True)
class ThreadSummary:
    """What a thread is about, who is in it, what is still open."""

    thread_id: str
    subject: str
    participants: tuple[str, ...]
    message_count: int
    first_at: int
    last_at: int
    action_items: tuple[ActionItem, ...]
    recent: tuple[Message, ...]


def action_items(message: Message) -> list[ActionItem]:
    """Open items in one message body: unchecked checkboxes and marker lines."""
    items: list[ActionItem] = []
    for line in (message.body or "").splitlines():
        if _CHECKED.match(line):
            continue
        checkbox = _CHECKBOX.match(line)
        if checkbox:
            text, kind = checkbox.group("text"), "checkbox"
        else:
            marker = _MARKER.search(line)
            if marker is None:
                continue
            text, kind = line, marker.group("kind")
        items.append(
            ActionItem(message.id, message.sender_name, text.strip()[:MAX_ITEM_CHARS], kind)
        )
    return items


class SummaryBuilder:
    """Accumulates a thread's messages (oldest first, in the reader's view) into a summary,
    keeping only bounded state: participants, up to MAX_ACTION_ITEMS items, the latest few."""

    def __init__(self, thread_id: str, recent_count: int) -> None:
        self._thread_id = thread_id
        self._recent: collections.deque[Message] = collections.deque(maxlen=recent_count)
        self._participants: dict[str, None] = {}
        self._items: list[ActionItem] = []
        self._count = 0
        self._first: Message | None = None
        self._last: Message | None = None

    def add(self, message: Message) -> None:
        """Take the next message of the thread."""
        self._first = self._first or message
        self._last = message
        self._count += 1
        for name in (message.sender_name, *message.to, *message.cc, *message.bcc):
            self._participants.setdefault(name, None)
        if len(self._items) < MAX_ACTION_ITEMS:
            self._items.extend(action_items(message)[: MAX_ACTION_ITEMS - len(self._items)])
        if self._recent.maxlen:
            self._recent.append(message)

    def build(self) -> ThreadSummary | None:
        """The summary, or None when no message was added."""
        if self._first is None or self._last is None:
            return None
        return ThreadSummary(
            thread_id=self._thread_id,
            subject=self._first.subject,
            participants=tuple(self._participants),
            message_count=self._count,
            first_at=self._first.created_at,
            last_at=self._last.created_at,
            action_items=tuple(self._items),
            recent=tuple(self._recent),
        )
