"""Full-text search on PostgreSQL, with visibility enforced in SQL: the
:class:`~agentmail_server.storage.ports.SearchReads` of this backend.

``match`` (the FTS5 rendering of a parsed query) becomes a ``tsquery`` (:mod:`.fulltext`)
matched against ``messages.search`` through its GIN index. The viewer sees a message only if it
sent it or has a delivery for it, and recipient filters respect bcc privacy, exactly as on
SQLite. Snippets are cut from the subject or the body as FTS5 cuts them, with ``[``/``]``
around the matches; scores are ``ts_rank`` (see :mod:`.fulltext` for how ranking differs).
"""

from __future__ import annotations

from typing import Any

from agentmail_server.domain.filters import Hit, SearchFilter
from agentmail_server.domain.models import RecipientKind
from agentmail_server.storage.postgres.fulltext import WEIGHTS, query_words, snippet, to_tsquery
from agentmail_server.storage.postgres.readers import ReadPool
from agentmail_server.storage.postgres.rows import message_from_row, unescape_body
from agentmail_server.storage.search_filters import apply_filters
from agentmail_server.storage.sqlite.rows import MESSAGE_COLUMNS, body_column

_RANK = f"ts_rank('{WEIGHTS}', m.search, q.query)"


def _hit_select(include_bodies: bool) -> str:
    """The select of hits (message, the viewer's delivery kind, score, snippet)."""
    return (
        f"SELECT {MESSAGE_COLUMNS}, {body_column(include_bodies)}, d.kind, {_RANK},"
        " m.body"
        " FROM (SELECT to_tsquery('simple', %s) AS query) q"
        " JOIN messages m ON m.search @@ q.query"
        " LEFT JOIN deliveries d ON d.agent_id = %s AND d.message_id = m.id"
    )


class PgSearch:
    """Runs searches on the read pool."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def snapshot(self) -> int:
        """The newest message id now: later pages of a search never look past it."""
        row = await self._pool.fetchone("SELECT coalesce(max(id), 0) FROM messages")
        return int(row[0]) if row else 0

    async def newest(
        self,
        viewer_id: int,
        project_id: int,
        match: str,
        flt: SearchFilter,
        *,
        snapshot: int,
        before_id: int | None,
        limit: int,
        include_bodies: bool,
    ) -> list[Hit]:
        """Hits newest first, at or below ``snapshot`` and below ``before_id`` (keyset)."""
        where, params = _visible(project_id, viewer_id, flt)
        where.append("m.id <= %s")
        params.append(snapshot)
        if before_id is not None:
            where.append("m.id < %s")
            params.append(before_id)
        rows = await self._pool.fetchall(
            f"{_hit_select(include_bodies)}"
            f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT %s",
            (to_tsquery(match), viewer_id, *params, limit),
        )
        words = query_words(match)
        return [_hit(row, words) for row in rows]

    async def ranked(
        self,
        viewer_id: int,
        project_id: int,
        match: str,
        flt: SearchFilter,
        *,
        candidates: int,
        limit: int,
    ) -> list[tuple[int, float]]:
        """(id, score) of the best ``limit`` among the newest ``candidates`` visible matches,
        best first (ties by id).

        Only the candidates are scored: the inner query takes the newest ``candidates``
        visible matches by id (no score computed there), and ``ts_rank`` runs in the outer
        one on that bounded set, however common the terms are.
        """
        where, params = _visible(project_id, viewer_id, flt)
        rows = await self._pool.fetchall(
            "WITH q AS (SELECT to_tsquery('simple', %s) AS query)"
            f" SELECT c.id, ts_rank('{WEIGHTS}', c.search, q.query) AS score"
            " FROM q, (SELECT m.id, m.search FROM q JOIN messages m ON m.search @@ q.query"
            " LEFT JOIN deliveries d ON d.agent_id = %s AND d.message_id = m.id"
            f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT %s) c"
            " ORDER BY score DESC, c.id LIMIT %s",
            (to_tsquery(match), viewer_id, *params, candidates, limit),
        )
        return [(int(row[0]), float(row[1])) for row in rows]

    async def hits_for(
        self,
        viewer_id: int,
        project_id: int,
        match: str,
        ids: list[int],
        include_bodies: bool,
    ) -> list[Hit]:
        """Hits for the given ids in the order given (with their score, which the service
        takes from :meth:`ranked` instead); ids no longer visible are left out."""
        if not ids:
            return []
        where, params = _visible(project_id, viewer_id, SearchFilter())
        where.append("m.id = ANY(%s)")
        params.append(ids)
        rows = await self._pool.fetchall(
            f"{_hit_select(include_bodies)} WHERE {' AND '.join(where)}",
            (to_tsquery(match), viewer_id, *params),
        )
        words = query_words(match)
        by_id = {hit.message.id: hit for hit in (_hit(row, words) for row in rows)}
        return [by_id[mid] for mid in ids if mid in by_id]


def _hit(row: Any, words: list[tuple[str, bool]]) -> Hit:
    message = message_from_row(row)
    return Hit(
        message=message,
        kind=RecipientKind(row[15]) if row[15] is not None else None,
        score=float(row[16]),
        snippet=snippet(message.subject, unescape_body(row[17]) or "", words),
    )


def _visible(project_id: int, viewer_id: int, flt: SearchFilter) -> tuple[list[str], list[Any]]:
    where = ["m.project_id = %s", "(m.sender_id = %s OR d.agent_id IS NOT NULL)"]
    params: list[Any] = [project_id, viewer_id]
    apply_filters(where, params, flt, viewer_id, "%s")
    return where, params
