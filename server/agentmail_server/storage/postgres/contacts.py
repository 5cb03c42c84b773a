"""Contact requests and responses on PostgreSQL: the twin of
:mod:`agentmail_server.storage.sqlite.contacts`, with the same results, errors and events.

Each runs inside :class:`~.writer.PgWriter`'s batch transaction. Requesting and answering are
upserts on the ``(project_id, from_agent, to_agent)`` key, so two processes racing on the same
pair leave one link, as two writes in the SQLite writer would.
"""

from __future__ import annotations

from agentmail_server.domain.contacts import ContactLink, ContactPolicy, ContactState
from agentmail_server.domain.links import (
    ContactRequest,
    ContactResponse,
    RequestOutcome,
    ResponseOutcome,
    introduction,
    request_verdict,
)
from agentmail_server.domain.notices import ContactNotice, ContactNoticeKind
from agentmail_server.storage.postgres.connection import Conn
from agentmail_server.storage.postgres.sends import insert_message
from agentmail_server.storage.postgres.writes import append_notice
from agentmail_server.storage.sqlite.contacts import LINK_COLUMNS, LINK_FROM, link_from_row

_UPSERT = (
    "INSERT INTO contacts (project_id, from_agent, to_agent, state, reason, expires_at,"
    " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (project_id, from_agent, to_agent) DO UPDATE SET state = excluded.state,"
    " {reason}expires_at = excluded.expires_at, updated_at = excluded.updated_at"
)


async def request_contact(
    conn: Conn, request: ContactRequest, default_policy: ContactPolicy, now: int
) -> RequestOutcome:
    """Open (or refresh) the requester's pending link to the target and tell the target.

    Raises:
        PermissionDenied: AGENT_RETIRED or CONTACT_BLOCKED, as on SQLite.
    """
    cursor = await conn.execute(
        "SELECT retired_at, contact_policy FROM agents WHERE id = %s", (request.to_id,)
    )
    target = await cursor.fetchone()
    assert target is not None  # the service resolved the name in this project
    policy = default_policy if target[1] is None else ContactPolicy(target[1])
    existing = await _link(conn, request.from_id, request.to_id)
    notify = request_verdict(request, target[0] is not None, policy, existing, now)
    if notify is None:
        assert existing is not None
        return RequestOutcome(existing, notified=False, sent=None)
    await conn.execute(
        _UPSERT.format(reason="reason = excluded.reason, ").encode(),
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
    link = await _link(conn, request.from_id, request.to_id)
    assert link is not None
    if not notify:
        return RequestOutcome(link, notified=False, sent=None)
    sent = await insert_message(conn, introduction(request), now)
    notice = await append_notice(
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


async def respond_contact(conn: Conn, response: ContactResponse, now: int) -> ResponseOutcome:
    """Approve (until an expiry) or block the requester's link to the responder, creating it
    when there was no request; the requester is told by a contact event."""
    state = ContactState.APPROVED if response.approve else ContactState.BLOCKED
    expires_at = now + response.ttl_micros if response.approve else None
    await conn.execute(
        _UPSERT.format(reason="").encode(),
        (
            response.project_id,
            response.from_id,
            response.to_id,
            int(state),
            "",
            expires_at,
            now,
            now,
        ),
    )
    link = await _link(conn, response.from_id, response.to_id)
    assert link is not None
    kind = ContactNoticeKind.APPROVED if response.approve else ContactNoticeKind.BLOCKED
    notice = await append_notice(
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


async def _link(conn: Conn, from_id: int, to_id: int) -> ContactLink | None:
    sql = f"SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE c.from_agent = %s AND c.to_agent = %s"
    cursor = await conn.execute(sql.encode(), (from_id, to_id))
    row = await cursor.fetchone()
    return None if row is None else link_from_row(row)
