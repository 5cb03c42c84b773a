"""The SQL of a search's structured filters and of its hit rows, shared by the storage backends.

The filters are the same standard SQL on both backends (SQLite and PostgreSQL name the same
columns); only the parameter mark differs (``?`` against ``%s``), so one function builds them.
Recipient filters respect bcc privacy: a bcc delivery counts only for the sender and for the
bcc recipient itself; so does the bcc list of a hit (:func:`hit_columns`).
"""

from __future__ import annotations

from typing import Any

from agentmail_server.domain.filters import SearchFilter
from agentmail_server.domain.models import RecipientKind


def hit_columns(mark: str) -> str:
    """The select list of a :data:`~agentmail_server.domain.search_hits.HitRow` up to its
    body (exclusive), over ``m`` (messages) and ``d`` (the viewer's delivery). Its parameters
    are the viewer's id and then its name: they give the bcc list as
    :meth:`~agentmail_server.domain.models.Message.seen_by` does (all of it for the sender,
    the viewer's own name for a bcc recipient, none for anyone else), so a hidden name never
    leaves the database."""
    return (
        "m.id, m.sender_name, m.thread_id, m.subject, m.importance, m.ack_required, m.topic,"
        f" m.to_names, m.cc_names, CASE WHEN m.sender_id = {mark} THEN m.bcc_names"
        f" WHEN d.kind = {int(RecipientKind.BCC)} THEN {mark} ELSE '' END,"
        " m.created_at, m.body_size"
    )


def apply_filters(
    where: list[str], params: list[Any], flt: SearchFilter, viewer_id: int, mark: str
) -> None:
    """Append ``flt``'s conditions on ``m`` (messages) and ``d`` (the viewer's delivery)."""
    if flt.sent_only:
        where.append(f"m.sender_id = {mark}")
        params.append(viewer_id)
    if flt.received_only:
        where.append("d.agent_id IS NOT NULL")
    if flt.sender_id is not None:
        where.append(f"m.sender_id = {mark}")
        params.append(flt.sender_id)
    if flt.recipient_id is not None:
        where.append(
            f"EXISTS (SELECT 1 FROM deliveries r WHERE r.agent_id = {mark}"
            f" AND r.message_id = m.id AND (r.kind <> 3 OR m.sender_id = {mark}"
            f" OR r.agent_id = {mark}))"
        )
        params.extend([flt.recipient_id, viewer_id, viewer_id])
    if flt.thread_id:
        where.append(f"m.thread_id = {mark}")
        params.append(flt.thread_id)
    if flt.topic:
        where.append(f"m.topic = {mark}")
        params.append(flt.topic)
    if flt.min_importance:
        where.append(f"m.importance >= {mark}")
        params.append(flt.min_importance)
    if flt.start_micros is not None:
        where.append(f"m.created_at >= {mark}")
        params.append(flt.start_micros)
    if flt.end_micros is not None:
        where.append(f"m.created_at < {mark}")
        params.append(flt.end_micros)
