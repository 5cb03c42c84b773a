"""Write operations on contact policies and links. Each runs on the writer thread inside the
batch transaction, like :mod:`.writes`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from agentmail_server.domain.contacts import ContactLink, ContactPolicy, ContactState
from agentmail_server.domain.links import (
    ContactRequest,
    ContactResponse,
    RequestOutcome,
    ResponseOutcome,
    introduction,
    request_verdict,
)
from agentmail_server.domain.models import Agent
from agentmail_server.domain.notices import ContactNotice, ContactNoticeKind
from agentmail_server.storage.sqlite import writes
from agentmail_server.storage.sqlite.notices import append_notice

LINK_COLUMNS = (
    "c.id, c.project_id, c.from_agent, f.name, c.to_agent, t.name, c.state, c.reason,"
    " c.expires_at, c.created_at, c.updated_at"
)
LINK_FROM = "contacts c JOIN agents f ON f.id = c.from_agent JOIN agents t ON t.id = c.to_agent"


def link_from_row(row: Any) -> ContactLink:
    """Build a ContactLink from LINK_COLUMNS."""
    return ContactLink(
        id=row[0],
        project_id=row[1],
        from_id=row[2],
        from_name=row[3],
        to_id=row[4],
        to_name=row[5],
        state=ContactState(row[6]),
        reason=row[7],
        expires_at=row[8],
        created_at=row[9],
        updated_at=row[10],
    )


def set_contact_policy(
    conn: sqlite3.Connection, agent_id: int, policy: ContactPolicy, now: int
) -> Agent:
    """Store the agent's own policy (it no longer follows the server's default)."""
    conn.execute(
        "UPDATE agents SET contact_policy = ?, updated_at = ? WHERE id = ?",
        (int(policy), now, agent_id),
    )
    return writes.load_agent(conn, agent_id)


def request_contact(
    conn: sqlite3.Connection, request: ContactRequest, default_policy: ContactPolicy, now: int
) -> RequestOutcome:
    """Open (or refresh) the requester's pending link to the target and tell the target.

    An approved, unexpired link and a blocked one are returned unchanged. The target is told
    by mail only when the request is new or the previous one lapsed.

    Raises:
        PermissionDenied: AGENT_RETIRED (the target is retired) or CONTACT_BLOCKED (it
            blocks everyone, or blocked the requester).
    """
    target = conn.execute(
        "SELECT retired_at, contact_policy FROM agents WHERE id = ?", (request.to_id,)
    ).fetchone()
    policy = default_policy if target[1] is None else ContactPolicy(target[1])
    existing = _link(conn, request.from_id, request.to_id)
    notify = request_verdict(request, target[0] is not None, policy, existing, now)
    if notify is None:
        assert existing is not None
        return RequestOutcome(existing, notified=False, sent=None)
    conn.execute(
        "INSERT INTO contacts (project_id, from_agent, to_agent, state, reason, expires_at,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (project_id, from_agent, to_agent) DO UPDATE SET state = excluded.state,"
        " reason = excluded.reason, expires_at = excluded.expires_at,"
        " updated_at = excluded.updated_at",
        (
            request.project_id,
            request.from_id,
            request.to_id,
            int(ContactState.PENDING),
            request.reason,
            now + request.ttl_micros,
            now,
            now,
        ),
    )
    link = _link(conn, request.from_id, request.to_id)
    assert link is not None
    if not notify:
        return RequestOutcome(link, notified=False, sent=None)
    sent = writes.insert_message(conn, introduction(request), now)
    notice = append_notice(
        conn,
        request.to_id,
        ContactNotice(
            kind=ContactNoticeKind.REQUESTED,
            from_agent=request.from_name,
            to_agent=request.to_name,
            reason=link.reason,
            expires_at=link.expires_at,
        ),
        now,
    )
    return RequestOutcome(link, notified=True, sent=sent, notices=(notice,))


def respond_contact(
    conn: sqlite3.Connection, response: ContactResponse, now: int
) -> ResponseOutcome:
    """Approve (until an expiry) or block the requester's link to the responder; the link is
    created when there was no request (an answer given in advance). The requester is told by
    a contact event."""
    state = ContactState.APPROVED if response.approve else ContactState.BLOCKED
    expires_at = now + response.ttl_micros if response.approve else None
    conn.execute(
        "INSERT INTO contacts (project_id, from_agent, to_agent, state, reason, expires_at,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?)"
        " ON CONFLICT (project_id, from_agent, to_agent) DO UPDATE SET state = excluded.state,"
        " expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        (
            response.project_id,
            response.from_id,
            response.to_id,
            int(state),
            expires_at,
            now,
            now,
        ),
    )
    link = _link(conn, response.from_id, response.to_id)
    assert link is not None
    kind = ContactNoticeKind.APPROVED if response.approve else ContactNoticeKind.BLOCKED
    notice = append_notice(
        conn,
        response.from_id,
        ContactNotice(
            kind=kind,
            from_agent=link.from_name,
            to_agent=link.to_name,
            reason=link.reason,
            expires_at=link.expires_at,
        ),
        now,
    )
    return ResponseOutcome(link, (notice,))


def _link(conn: sqlite3.Connection, from_id: int, to_id: int) -> ContactLink | None:
    row = conn.execute(
        f"SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE c.from_agent = ? AND c.to_agent = ?",
        (from_id, to_id),
    ).fetchone()
    return None if row is None else link_from_row(row)
