"""Full-text search on PostgreSQL, with visibility enforced in SQL: the
:class:`~agentmail_server.storage.ports.SearchReads` of this backend.

``match`` (the FTS5 rendering of a parsed query) becomes a ``tsquery`` (:mod:`.fulltext`)
matched against ``messages.search`` through its GIN index. The viewer sees a message only if it
sent it or has a delivery for it, and recipient filters respect bcc privacy, exactly as on
SQLite. Snippets are cut from the subject or the body as FTS5 cuts them, with ``[``/``]``
around the matches; scores are ``ts_rank`` (see :mod:`.fulltext` for how ranking differs).
Hits are the same :data:`~agentmail_server.domain.search_hits.HitRow` rows as on SQLite, their
bcc list in the viewer's view from the same SQL (:func:`.search_filters.hit_columns`); each
row is completed here with its unescaped body and its snippet.
"""

from __future__ import annotations

from typing import Any

from agentmail_server.domain.filters import SearchFilter
from agentmail_server.domain.search_hits import BODY_SIZE, SUBJECT, HitRow, in_order
from agentmail_server.storage.postgres.fulltext import WEIGHTS, query_words, snippet, to_tsquery
from agentmail_server.storage.postgres.readers import ReadPool
from agentmail_server.storage.postgres.rows import unescape_body
from agentmail_server.storage.search_filters import apply_filters, hit_columns

_RANK = f"ts_rank('{WEIGHTS}', m.search, q.query)"


def _hit_select(include_bodies: bool) -> str:
    """The select of hits: the HitRow columns up to the body, whether the body was asked for,
    the stored body (for the snippet) and the score. Its parameters: the query, the viewer's
    id, its name (the bcc view) and its id again (the delivery join)."""
    return (
        f"SELECT {hit_columns('%s')}, {'true' if include_bodies else 'false'}, m.body, {_RANK}"
        " FROM (SELECT to_tsquery('simple', %s) AS query) q"
        " JOIN messages m ON m.search @@ q.query"
        " LEFT JOIN deliveries d ON d.agent_id = %s AND d.message_id = m.id"
    )


class PgSearch:
    """Runs searches on the read pool."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def newest(
        self,
        viewer_id: int,
        viewer_name: str,
        project_id: int,
        match: str,
        flt: SearchFilter,
        *,
        snapshot: int | None,
        before_id: int | None,
        limit: int,
        include_bodies: bool,
    ) -> tuple[int, list[HitRow]]:
        """The snapshot and the hits newest first, at or below it and below ``before_id``
        (keyset); without a ``snapshot`` (a first page), the newest message id now."""
        if snapshot is None:
            row = await self._pool.fetchone("SELECT coalesce(max(id), 0) FROM messages")
            snapshot = int(row[0]) if row else 0
        where, params = _visible(project_id, viewer_id, flt)
        where.append("m.id <= %s")
        params.append(snapshot)
        if before_id is not None:
            where.append("m.id < %s")
            params.append(before_id)
        rows = await self._pool.fetchall(
            f"{_hit_select(include_bodies)}"
            f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT %s",
            (viewer_id, viewer_name, to_tsquery(match), viewer_id, *params, limit),
        )
        words = query_words(match)
        return snapshot, [_hit(row, words) for row in rows]

    async def ranked(
        self,
        viewer_id: int,
        viewer_name: str,
        project_id: int,
        match: str,
        flt: SearchFilter,
        *,
        candidates: int,
        limit: int,
        page: int,
        include_bodies: bool,
    ) -> tuple[list[tuple[int, float]], list[HitRow]]:
        """(id, score) of the best ``limit`` among the newest ``candidates`` visible matches,
        best first (ties by id), and the hits of the first ``page`` of them.

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
        ranking = [(int(row[0]), float(row[1])) for row in rows]
        ids = [pair[0] for pair in ranking[:page]]
        hits = await self.hits_for(viewer_id, viewer_name, project_id, match, ids, include_bodies)
        return ranking, hits

    async def hits_for(
        self,
        viewer_id: int,
        viewer_name: str,
        project_id: int,
        match: str,
        ids: list[int],
        include_bodies: bool,
    ) -> list[HitRow]:
        """Hits for the given ids in the order given (with their score, which the service
        takes from :meth:`ranked` instead); ids no longer visible are left out."""
        if not ids:
            return []
        where, params = _visible(project_id, viewer_id, SearchFilter())
        where.append("m.id = ANY(%s)")
        params.append(ids)
        rows = await self._pool.fetchall(
            f"{_hit_select(include_bodies)} WHERE {' AND '.join(where)}",
            (viewer_id, viewer_name, to_tsquery(match), viewer_id, *params),
        )
        words = query_words(match)
        return in_order([_hit(row, words) for row in rows], ids)


def _hit(row: Any, words: list[tuple[str, bool]]) -> HitRow:
    """A HitRow from a row of :func:`_hit_select`: the body unescaped (when asked for), the
    snippet cut from the subject and the stored body."""
    body = unescape_body(row[BODY_SIZE + 2]) or ""
    return (
        *row[: BODY_SIZE + 1],
        body if row[BODY_SIZE + 1] else None,
        snippet(row[SUBJECT], body, words),
        float(row[BODY_SIZE + 3]),
    )


def _visible(project_id: int, viewer_id: int, flt: SearchFilter) -> tuple[list[str], list[Any]]:
    where = ["m.project_id = %s", "(m.sender_id = %s OR d.agent_id IS NOT NULL)"]
    params: list[Any] = [project_id, viewer_id]
    apply_filters(where, params, flt, viewer_id, "%s")
    return where, params
