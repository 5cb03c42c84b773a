"""Mapping SQLite rows to domain records. Column lists live beside their mappers."""

from __future__ import annotations

from typing import Any

from agentmail_server.domain.contacts import ContactPolicy
from agentmail_server.domain.models import (
    Agent,
    Delivery,
    Importance,
    Message,
    Project,
    RecipientKind,
)
from agentmail_server.domain.reservations import Hold, Reservation

PROJECT_COLUMNS = "id, slug, human_key, created_at"
AGENT_COLUMNS = (
    "a.id, a.project_id, p.slug, a.name, a.program, a.model, a.task_description, "
    "a.created_at, a.updated_at, a.status, a.capabilities, a.last_active_at, a.retired_at, "
    "a.contact_policy"
)
# How many columns AGENT_COLUMNS selects (queries that select more read them after these).
AGENT_COLUMN_COUNT = 14
AGENT_FROM = "agents a JOIN projects p ON p.id = a.project_id"
# Envelope columns; the body is selected separately (see schema: it is the last column).
MESSAGE_COLUMNS = (
    "m.id, m.project_id, m.sender_id, m.sender_name, m.thread_id, m.subject, m.importance, "
    "m.ack_required, m.topic, m.to_names, m.cc_names, m.bcc_names, m.created_at, m.body_size"
)


def body_column(include_body: bool) -> str:
    """The select-list entry for the body: the column itself, or NULL to leave it unread."""
    return "m.body" if include_body else "NULL"


def project_from_row(row: Any) -> Project:
    """Build a Project from PROJECT_COLUMNS."""
    return Project(id=row[0], slug=row[1], human_key=row[2], created_at=row[3])


def agent_from_row(row: Any) -> Agent:
    """Build an Agent from AGENT_COLUMNS."""
    return Agent(
        id=row[0],
        project_id=row[1],
        project_slug=row[2],
        name=row[3],
        program=row[4],
        model=row[5],
        task_description=row[6],
        created_at=row[7],
        updated_at=row[8],
        status=row[9],
        capabilities=split_capabilities(row[10]),
        last_active_at=row[11],
        retired_at=row[12],
        contact_policy=None if row[13] is None else ContactPolicy(row[13]),
    )


def split_capabilities(stored: str) -> tuple[str, ...]:
    """Capabilities as stored in ``agents.capabilities`` (comma-joined: names hold no comma)."""
    return tuple(stored.split(",")) if stored else ()


# Enum members by stored value: a dict lookup costs a fraction of calling the enum class, and
# every row of every page pays it.
_IMPORTANCE = {int(member): member for member in Importance}
_KIND = {int(member): member for member in RecipientKind}


def message_from_row(row: Any, offset: int = 0) -> Message:
    """Build a Message from MESSAGE_COLUMNS followed by the body column, starting at offset."""
    r = row[offset : offset + 15] if offset else row
    return Message(
        id=r[0],
        project_id=r[1],
        sender_id=r[2],
        sender_name=r[3],
        thread_id=r[4],
        subject=r[5],
        importance=_IMPORTANCE[r[6]],
        ack_required=bool(r[7]),
        topic=r[8],
        to=tuple(r[9].split(",")) if r[9] else (),
        cc=tuple(r[10].split(",")) if r[10] else (),
        bcc=tuple(r[11].split(",")) if r[11] else (),
        created_at=r[12],
        body_size=r[13],
        body=r[14],
    )


_BCC = int(RecipientKind.BCC)
DELIVERY_COLUMNS = "d.message_id, d.kind, d.read_at, d.ack_at"


def inbox_row_columns(include_body: bool, mark: str = "?") -> str:
    """The select list of an :data:`~agentmail_server.domain.inbox_rows.InboxRow` over
    messages ``m`` and the reader's deliveries ``d`` (both backends: only the parameter
    ``mark`` differs). It takes two parameters, the reader's agent id then name, for the
    reader's view of bcc, which SQL applies as ``Message.seen_by`` would: all of it to the
    sender, the reader's own name to a bcc recipient, nothing to anyone else."""
    return (
        "m.id, m.thread_id, m.sender_name, m.to_names, m.cc_names,"
        f" CASE WHEN m.sender_id = {mark} THEN m.bcc_names WHEN d.kind = {_BCC} THEN {mark}"
        f" ELSE '' END, m.subject, {body_column(include_body)}, m.importance, m.ack_required,"
        " m.topic, m.created_at, m.body_size, d.kind, d.read_at, d.ack_at"
    )


def delivery_from_row(row: Any, offset: int = 0) -> Delivery:
    """Build a Delivery from DELIVERY_COLUMNS, starting at offset."""
    return Delivery(
        message_id=row[offset],
        kind=_KIND[row[offset + 1]],
        read_at=row[offset + 2],
        ack_at=row[offset + 3],
    )


def join_names(names: tuple[str, ...] | list[str]) -> str:
    """Recipient names as stored: comma-separated (agent names cannot contain commas)."""
    return ",".join(names)


def split_names(stored: str) -> tuple[str, ...]:
    """The names stored by :func:`join_names`."""
    return tuple(stored.split(",")) if stored else ()


RESERVATION_COLUMNS = (
    "r.id, r.project_id, r.agent_id, a.name, r.pattern, r.exclusive, r.reason, r.created_at,"
    " r.updated_at, r.expires_at, r.released_at, r.released_by, r.release_reason"
)
RESERVATION_FROM = "reservations r JOIN agents a ON a.id = r.agent_id"


def reservation_from_row(row: Any) -> Reservation:
    """A reservation from a row of :data:`RESERVATION_COLUMNS`."""
    return Reservation(
        id=row[0],
        project_id=row[1],
        agent_id=row[2],
        agent_name=row[3],
        pattern=row[4],
        exclusive=bool(row[5]),
        reason=row[6],
        created_at=row[7],
        updated_at=row[8],
        expires_at=row[9],
        released_at=row[10],
        released_by=row[11],
        release_reason=row[12],
    )


HOLD_COLUMNS = "r.id, r.agent_id, a.name, r.pattern, r.exclusive, r.expires_at"


def hold_from_row(row: Any) -> Hold:
    """A hold from a row of :data:`HOLD_COLUMNS` (over :data:`RESERVATION_FROM`)."""
    return Hold(row[0], row[1], row[2], row[3], bool(row[4]), row[5])
