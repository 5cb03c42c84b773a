"""Filters that reads take: plain values, no SQL."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class InboxFilter:
    """Which of an inbox's deliveries a page or subscription wants."""

    unread_only: bool = False
    urgent_only: bool = False
    topic: str = ""
    thread_id: str = ""


@dataclasses.dataclass(frozen=True)
class SearchFilter:
    """Structured filters applied together with the text query."""

    sent_only: bool = False
    received_only: bool = False
    sender_id: int | None = None
    recipient_id: int | None = None
    thread_id: str = ""
    topic: str = ""
    min_importance: int = 0
    start_micros: int | None = None
    end_micros: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class AgentFilter:
    """ListAgents' filters.

    Attributes:
        active_since: only agents last active at or after this time (microseconds), if set.
        capability_key: only agents publishing this capability (its ``names.name_key``).
        include_retired: also retired agents.
    """

    active_since: int | None = None
    capability_key: str = ""
    include_retired: bool = False
