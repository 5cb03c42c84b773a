"""Full-text search queries over ``messages_fts``, with visibility enforced in SQL.

The caller sees a message only if it sent it or has a delivery row for it; that condition is
part of the query, never a filter applied to rows in Python. Recipient filters respect bcc
privacy: a bcc delivery counts only for the sender and for the bcc recipient itself.

The index is filled asynchronously (:mod:`.indexer`): the first query of a search first waits
for the indexer to cover every message committed before it (``catch_up``), so a search always
sees what was sent before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agentmail_server.domain.filters import Hit, SearchFilter
from agentmail_server.domain.models import RecipientKind
from agentmail_server.storage.search_filters import apply_filters
from agentmail_server.storage.sqlite.readers import ReadPool
from agentmail_server.storage.sqlite.rows import MESSAGE_COLUMNS, body_column, message_from_row

# bm25 column weights: a match in the subject counts four times one in the body.
SUBJECT_WEIGHT = 4.0
BODY_WEIGHT = 1.0
SNIPPET_TOKENS = 16


class SearchQueries:
    """Runs searches on the read pool."""

    def __init__(self, pool: ReadPool, catch_up: Callable[[], Awaitable[bool]]) -> None:
        self._pool = pool
        self._catch_up = catch_up

    async def snapshot(self) -> int:
        """The newest message id now: later pages of a search never look past it."""
        row = await self._pool.fetchone("SELECT coalesce(max(id), 0) FROM messages")
        return int(row[0]) if row else 0

    def _visible(
        self, match: str, project_id: int, viewer_id: int, flt: SearchFilter
    ) -> tuple[list[str], list[Any]]:
        where = [
            "messages_fts MATCH ?",
            "m.project_id = ?",
            "(m.sender_id = ? OR d.agent_id IS NOT NULL)",
        ]
        params: list[Any] = [match, project_id, viewer_id]
        apply_filters(where, params, flt, viewer_id, "?")
        return where, params

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
        """Hits newest first, at or below ``snapshot`` and below ``before_id`` (keyset paging).

        Ordering and bounds are on ``messages_fts.rowid`` so FTS5 yields rows newest first and
        stops after ``limit``, instead of sorting (and snippeting) every match.
        """
        if before_id is None:  # a first page; later ones stay at or below its snapshot
            await self._catch_up()
        where, params = self._visible(match, project_id, viewer_id, flt)
        where.append("messages_fts.rowid <= ?")
        params.append(snapshot)
        if before_id is not None:
            where.append("messages_fts.rowid < ?")
            params.append(before_id)
        rows = await self._pool.fetchall(
            f"{_HIT_SELECT.format(body=body_column(include_bodies), score=_BM25)}"
            f" WHERE {' AND '.join(where)} ORDER BY messages_fts.rowid DESC LIMIT ?",
            (viewer_id, *params, limit),
        )
        return [_hit(row) for row in rows]

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

        Only the candidates are scored: FTS5 yields matches newest first and stops after
        ``candidates`` (the inner LIMIT), so bm25 runs on at most that many rows however
        common the terms are; sorting by score happens on that bounded set.
        """
        await self._catch_up()
        if flt == _NO_FILTER:
            return await self._ranked_unfiltered(
                viewer_id, project_id, match, candidates=candidates, limit=limit
            )
        where, params = self._visible(match, project_id, viewer_id, flt)
        rows = await self._pool.fetchall(
            "SELECT id, score FROM (SELECT m.id AS id,"
            f" bm25(messages_fts, {SUBJECT_WEIGHT}, {BODY_WEIGHT}) AS score"
            " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " LEFT JOIN deliveries d ON d.agent_id = ? AND d.message_id = m.id"
            f" WHERE {' AND '.join(where)} ORDER BY messages_fts.rowid DESC LIMIT ?)"
            " ORDER BY score, id LIMIT ?",
            (viewer_id, *params, candidates, limit),
        )
        return [(row[0], -row[1]) for row in rows]

    async def _ranked_unfiltered(
        self, viewer_id: int, project_id: int, match: str, *, candidates: int, limit: int
    ) -> list[tuple[int, float]]:
        # Without filters on the message's columns, visibility is two primary-key probes per
        # candidate instead of two joins (a third less CPU): the caller's delivery, else the
        # message's sender. A delivery needs no project check: mail is only ever delivered to
        # agents of the message's own project, and the caller is in project_id.
        rows = await self._pool.fetchall(
            f"SELECT id, score FROM (SELECT messages_fts.rowid AS id, {_BM25} AS score"
            " FROM messages_fts WHERE messages_fts MATCH ? AND (EXISTS (SELECT 1 FROM"
            " deliveries d WHERE d.agent_id = ? AND d.message_id = messages_fts.rowid)"
            " OR EXISTS (SELECT 1 FROM messages m WHERE m.id = messages_fts.rowid"
            " AND m.sender_id = ? AND m.project_id = ?))"
            " ORDER BY messages_fts.rowid DESC LIMIT ?) ORDER BY score, id LIMIT ?",
            (match, viewer_id, viewer_id, project_id, candidates, limit),
        )
        return [(row[0], -row[1]) for row in rows]

    async def hits_for(
        self,
        viewer_id: int,
        project_id: int,
        match: str,
        ids: list[int],
        include_bodies: bool,
    ) -> list[Hit]:
        """Hits with snippets (score 0: the ranking that chose the ids has them) for the given
        ids, in the order given; ids that are no longer visible are left out."""
        if not ids:
            return []
        where, params = self._visible(match, project_id, viewer_id, SearchFilter())
        # FTS5 would take `rowid IN (...)` as one lookup per id, each redoing the query's setup
        # (for a prefix, merging every matching term's doclist: 9 ms an id at 1,000,000
        # messages). So FTS5 gets the ids' range, one scan, and the `+` keeps the IN a plain
        # filter on that scan's rows, applied before the joins and the snippet.
        marks = ",".join("?" * len(ids))
        where.append(f"messages_fts.rowid BETWEEN ? AND ? AND +messages_fts.rowid IN ({marks})")
        params.extend([min(ids), max(ids), *ids])
        rows = await self._pool.fetchall(
            f"{_HIT_SELECT.format(body=body_column(include_bodies), score='0')}"
            f" WHERE {' AND '.join(where)}",
            (viewer_id, *params),
        )
        by_id = {hit.message.id: hit for hit in map(_hit, rows)}
        return [by_id[mid] for mid in ids if mid in by_id]


_BM25 = f"bm25(messages_fts, {SUBJECT_WEIGHT}, {BODY_WEIGHT})"
_NO_FILTER = SearchFilter()
# {score}: bm25 where the hits are the ranking (newest first), 0 where a ranking chose them.
_HIT_SELECT = (
    f"SELECT {MESSAGE_COLUMNS}, {{body}}, d.kind, {{score}},"
    f" snippet(messages_fts, -1, '[', ']', '…', {SNIPPET_TOKENS})"
    " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
    " LEFT JOIN deliveries d ON d.agent_id = ? AND d.message_id = m.id"
)


def _hit(row: Any) -> Hit:
    return Hit(
        message=message_from_row(row),
        kind=RecipientKind(row[15]) if row[15] is not None else None,
        score=-float(row[16]),
        snippet=str(row[17] or ""),
    )
