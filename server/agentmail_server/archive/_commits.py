"""Archive commit messages: who wrote to whom about what, and the archived position. Pure.

The position (the last archived message id, agent revision and reservation revision) is
recorded as trailers of the
commit that contains those records. The commit and its trailers become visible together, in
one atomic branch update, so after a crash the branch head always says exactly how far the
archive got, and the projector resumes from there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from agentmail_server.archive._layout import MessageRecord, ReservationRecord
from agentmail_server.domain.models import Agent

MESSAGE_TRAILER = "Agentmail-Message"
AGENT_TRAILER = "Agentmail-Agent-Revision"
# Absent from archives written before reservations existed: read as 0 there.
RESERVATION_TRAILER = "Agentmail-Reservation-Revision"
# Lines listed in a commit message body; the rest are counted, not listed.
MAX_LISTED = 200
_MAX_NAMES = 5
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_TRAILER = re.compile(rf"({MESSAGE_TRAILER}|{AGENT_TRAILER}|{RESERVATION_TRAILER}): (\d+)")


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Position:
    """How far the archive got: the last archived message id, agent revision and reservation
    revision."""

    message_id: int = 0
    agent_revision: int = 0
    reservation_revision: int = 0


def _clean(text: str) -> str:
    """One line of text: control characters and line breaks become spaces."""
    return _CONTROL.sub(" ", text).strip()


def _names(names: Sequence[str]) -> str:
    if len(names) <= _MAX_NAMES:
        return ", ".join(names)
    return f"{', '.join(names[:_MAX_NAMES])} and {len(names) - _MAX_NAMES} others"


def describe_message(record: MessageRecord) -> str:
    """``Alice → Bob, Carol (cc Dave): subject`` — to and cc only, never bcc."""
    message = record.message
    to = _names(message.to) if message.to else ""
    cc = f"cc {_names(message.cc)}" if message.cc else ""
    recipients = f"{to} ({cc})" if to and cc else to or cc or "undisclosed recipients"
    return f"{message.sender_name} → {recipients}: {_clean(message.subject)}"


def describe_agent(agent: Agent) -> str:
    """``Bob registered`` or ``Bob updated their profile``."""
    if agent.created_at == agent.updated_at:
        return f"{agent.name} registered"
    return f"{agent.name} updated their profile"


def describe_reservation(record: ReservationRecord) -> str:
    """``Alice reserved src/** (exclusive)``; or released it, let it expire, or had it
    force-released by another agent."""
    held = record.reservation
    what = f"{_clean(held.pattern)} ({'exclusive' if held.exclusive else 'shared'})"
    if held.released_at is None:
        return f"{held.agent_name} reserved {what}"
    if not held.released_by:
        return f"{held.agent_name} let {what} expire"
    if held.released_by == held.agent_name:
        return f"{held.agent_name} released {what}"
    return f"{held.released_by} force-released {what} of {held.agent_name}"


def commit_message(
    messages: Sequence[MessageRecord],
    agents: Sequence[Agent],
    position: Position,
    reservations: Sequence[ReservationRecord] = (),
) -> str:
    """Title, one line per record (up to :data:`MAX_LISTED`), then the position trailers."""
    if len(messages) == 1 and not agents and not reservations:
        title = describe_message(messages[0])
    elif len(agents) == 1 and not messages and not reservations:
        title = f"{describe_agent(agents[0])} in {agents[0].project_slug}"
    elif len(reservations) == 1 and not messages and not agents:
        title = f"{describe_reservation(reservations[0])} in {reservations[0].project_slug}"
    else:
        parts = []
        if messages:
            parts.append(f"{len(messages)} message{'s' if len(messages) != 1 else ''}")
        if agents:
            parts.append(f"{len(agents)} agent profile{'s' if len(agents) != 1 else ''}")
        if reservations:
            parts.append(f"{len(reservations)} reservation{'s' if len(reservations) != 1 else ''}")
        title = "Archive " + " and ".join(parts)
    # Only the listed records are described: a big batch lists 200 of its thousands.
    lines = [
        f"- #{r.message.id} {r.project_slug}: {describe_message(r)}" for r in messages[:MAX_LISTED]
    ]
    lines += [f"- {a.project_slug}: {describe_agent(a)}" for a in agents[: MAX_LISTED - len(lines)]]
    lines += [
        f"- {r.project_slug}: reservation #{r.reservation.id}: {describe_reservation(r)}"
        for r in reservations[: MAX_LISTED - len(lines)]
    ]
    unlisted = len(messages) + len(agents) + len(reservations) - len(lines)
    if unlisted:
        lines.append(f"- … and {unlisted} more")
    trailers = (
        f"{MESSAGE_TRAILER}: {position.message_id}\n{AGENT_TRAILER}: {position.agent_revision}\n"
        f"{RESERVATION_TRAILER}: {position.reservation_revision}\n"
    )
    return f"{title}\n\n" + "\n".join(lines) + "\n\n" + trailers


def parse_position(message: str) -> Position | None:
    """The position recorded in a commit message's trailers, or None if it has none.

    Only the last paragraph is read, so text elsewhere in the message cannot pose as a
    trailer (and listed lines start with '- ' anyway).
    """
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if not paragraphs:
        return None
    found: dict[str, int] = {}
    for line in paragraphs[-1].splitlines():
        match = _TRAILER.fullmatch(line.strip())
        if match:
            found[match.group(1)] = int(match.group(2))
    if MESSAGE_TRAILER not in found or AGENT_TRAILER not in found:
        return None
    return Position(found[MESSAGE_TRAILER], found[AGENT_TRAILER], found.get(RESERVATION_TRAILER, 0))
