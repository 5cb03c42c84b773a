"""Full-text search queries over ``messages_fts``, with visibility enforced in SQL.

The caller sees a message only if it sent it or has a delivery row for it; that condition is
part of the query, never a filter applied to rows in Python. Recipient filters respect bcc
privacy: a bcc delivery counts only for the sender and for the bcc recipient itself.

The index is filled asynchronously (:mod:`.indexer`): the first query of a search first waits
for the indexer to cover every message committed before it (``catch_up``), so a search always
sees what was sent before it.

Each search is one hand-off to a reader thread (:meth:`ReadPool.run`): the first page of a
relevance search ranks and reads its hits there, in one read transaction; the first page newest
first reads its snapshot and its hits the same way. Hits come back as the rows the wire needs
(:mod:`agentmail_server.domain.search_hits`), with no Python object built per hit.

In that same transaction, a prefix term is first stood for the indexed words it covers
(:mod:`.prefix_terms`): the statements then find the same messages without merging the
prefix's doclists once per statement.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from agentmail_server.domain.filters import SearchFilter
from agentmail_server.domain.search_hits import HitRow, in_order
from agentmail_server.storage.search_filters import apply_filters, hit_columns
from agentmail_server.storage.sqlite import prefix_terms
from agentmail_server.storage.sqlite.readers import ReadPool
from agentmail_server.storage.sqlite.rows import body_column

# bm25 column weights: a match in the subject counts four times one in the body.
SUBJECT_WEIGHT = 4.0
BODY_WEIGHT = 1.0
SNIPPET_TOKENS = 16

Ranking = list[tuple[int, float]]


class SearchQueries:
    """Runs searches on the read pool."""

    def __init__(self, pool: ReadPool, catch_up: Callable[[], Awaitable[bool]]) -> None:
        self._pool = pool
        self._catch_up = catch_up

    def _visible(
        self, project_id: int, viewer_id: int, flt: SearchFilter
    ) -> tuple[list[str], list[Any]]:
        """The visibility and filter conditions, and their parameters (the MATCH expression's
        place marked)."""
        where = list(_VISIBLE)
        params: list[Any] = [_MATCH, project_id, viewer_id]
        apply_filters(where, params, flt, viewer_id, "?")
        return where, params

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
        (keyset paging); without a ``snapshot`` (a first page) the newest message id now,
        read in the same transaction as the hits.

        Ordering and bounds are on ``messages_fts.rowid`` so FTS5 yields rows newest first and
        stops after ``limit``, instead of sorting (and snippeting) every match.
        """
        if snapshot is None:  # a first page; later ones stay at or below its snapshot
            await self._catch_up()
        where, params = self._visible(project_id, viewer_id, flt)
        where.append("messages_fts.rowid <= ?")
        tail: tuple[Any, ...] = (limit,)
        if before_id is not None:
            where.append("messages_fts.rowid < ?")
            tail = (before_id, limit)
        sql = (
            f"{_hit_select(include_bodies, f'-{_BM25}')}"
            f" WHERE {' AND '.join(where)} ORDER BY messages_fts.rowid DESC LIMIT ?"
        )
        head = (viewer_id, viewer_name, viewer_id, *params)

        def work(conn: sqlite3.Connection) -> tuple[int, list[HitRow]]:
            # A later page with no prefix to stand for its words runs one statement.
            with _one_snapshot(conn, snapshot is None or prefix_terms.expandable(match)):
                expanded = _with_match(head, prefix_terms.expand(conn, match))
                if snapshot is not None:
                    return snapshot, conn.execute(sql, (*expanded, snapshot, *tail)).fetchall()
                (newest,) = conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()
                return newest, conn.execute(sql, (*expanded, newest, *tail)).fetchall()

        return await self._pool.run(work, 1 if snapshot is not None else 2)

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
    ) -> tuple[Ranking, list[HitRow]]:
        """(id, score) of the best ``limit`` among the newest ``candidates`` visible matches,
        best first (ties by id), and the hits of the first ``page`` of them, in that order.

        Only the candidates are scored: FTS5 yields matches newest first and stops after
        ``candidates`` (the inner LIMIT), so bm25 runs on at most that many rows however
        common the terms are; sorting by score happens on that bounded set. The ranking and
        the hits are read in one transaction: every id of the page has its hit.
        """
        await self._catch_up()
        rank_params: tuple[Any, ...]
        if flt == _NO_FILTER:
            rank_sql, rank_params = _RANK_UNFILTERED, (_MATCH, viewer_id, viewer_id, project_id)
        else:
            where, params = self._visible(project_id, viewer_id, flt)
            rank_sql = (
                "SELECT id, -score FROM (SELECT m.id AS id,"
                f" {_BM25} AS score"
                " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
                " LEFT JOIN deliveries d ON d.agent_id = ? AND d.message_id = m.id"
                f" WHERE {' AND '.join(where)} ORDER BY messages_fts.rowid DESC LIMIT ?)"
                " ORDER BY score, id LIMIT ?"
            )
            rank_params = (viewer_id, *params)
        rank_params = (*rank_params, candidates, limit)
        hits = _HitsFor(viewer_id, viewer_name, project_id, match, include_bodies)

        def work(conn: sqlite3.Connection) -> tuple[Ranking, list[HitRow]]:
            with _one_snapshot(conn):
                expanded = prefix_terms.expand(conn, match)
                ranking = conn.execute(rank_sql, _with_match(rank_params, expanded)).fetchall()
                return ranking, hits(conn, [pair[0] for pair in ranking[:page]], expanded)

        return await self._pool.run(work, 2)

    async def hits_for(
        self,
        viewer_id: int,
        viewer_name: str,
        project_id: int,
        match: str,
        ids: list[int],
        include_bodies: bool,
    ) -> list[HitRow]:
        """Hits with snippets (score 0: the ranking that chose the ids has them) for the given
        ids, in the order given; ids that are no longer visible are left out."""
        if not ids:
            return []
        hits = _HitsFor(viewer_id, viewer_name, project_id, match, include_bodies)

        def work(conn: sqlite3.Connection) -> list[HitRow]:
            with _one_snapshot(conn, prefix_terms.expandable(match)):
                return hits(conn, ids, prefix_terms.expand(conn, match))

        return await self._pool.run(work)


class _HitsFor:
    """The statement reading the hits of chosen ids (run on a reader thread)."""

    def __init__(
        self, viewer_id: int, viewer_name: str, project_id: int, match: str, bodies: bool
    ) -> None:
        self._head = (viewer_id, viewer_name, viewer_id, _MATCH, project_id, viewer_id)
        self._select = f"{_hit_select(bodies, '0')} WHERE {' AND '.join(_VISIBLE)}"

    def __call__(self, conn: sqlite3.Connection, ids: list[int], match: str) -> list[HitRow]:
        """The hits of ``ids`` for ``match`` (the search's, its prefixes already stood for
        their words by the caller's transaction)."""
        if not ids:
            return []
        # FTS5 would take `rowid IN (...)` as one lookup per id, each redoing the query's
        # setup (for a prefix, merging every matching term's doclist: 9 ms an id at 1,000,000
        # messages). So FTS5 gets the ids' range, one scan, and the `+` keeps the IN a plain
        # filter on that scan's rows, applied before the joins and the snippet.
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"{self._select} AND messages_fts.rowid BETWEEN ? AND ?"
            f" AND +messages_fts.rowid IN ({marks})",
            (*_with_match(self._head, match), min(ids), max(ids), *ids),
        ).fetchall()
        return in_order(rows, ids)


class _MatchMark:
    """Stands in a statement's parameters for the MATCH expression until the reader thread has
    stood its prefixes for their words (see :func:`_with_match`)."""


_MATCH = _MatchMark()


def _with_match(params: tuple[Any, ...], match: str) -> tuple[Any, ...]:
    """``params`` with the MATCH expression in the place marked by ``_MATCH``."""
    return tuple(match if param is _MATCH else param for param in params)


@contextlib.contextmanager
def _one_snapshot(conn: sqlite3.Connection, needed: bool = True) -> Iterator[None]:
    """One read transaction around a few statements: they all see the same commit. Not
    ``needed``: a lone statement is its own (no BEGIN and COMMIT to run)."""
    if not needed:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")  # read-only: ending it releases the snapshot


_BM25 = f"bm25(messages_fts, {SUBJECT_WEIGHT}, {BODY_WEIGHT})"
_NO_FILTER = SearchFilter()
# What the viewer may see: its parameters are the match, the project and the viewer's id.
_VISIBLE = (
    "messages_fts MATCH ?",
    "m.project_id = ?",
    "(m.sender_id = ? OR d.agent_id IS NOT NULL)",
)
# Without filters on the message's columns, visibility is two primary-key probes per candidate
# instead of two joins (a third less CPU): the caller's delivery, else the message's sender. A
# delivery needs no project check: mail is only ever delivered to agents of the message's own
# project, and the caller is in project_id.
_RANK_UNFILTERED = (
    f"SELECT id, -score FROM (SELECT messages_fts.rowid AS id, {_BM25} AS score"
    " FROM messages_fts WHERE messages_fts MATCH ? AND (EXISTS (SELECT 1 FROM"
    " deliveries d WHERE d.agent_id = ? AND d.message_id = messages_fts.rowid)"
    " OR EXISTS (SELECT 1 FROM messages m WHERE m.id = messages_fts.rowid"
    " AND m.sender_id = ? AND m.project_id = ?))"
    " ORDER BY messages_fts.rowid DESC LIMIT ?) ORDER BY score, id LIMIT ?"
)


def _hit_select(include_bodies: bool, score: str) -> str:
    """The select of hit rows; its parameters start with the viewer's id, its name and its id
    again (the bcc view, then the delivery join). ``score``: the relevance where the hits are
    the ranking (newest first), 0 where a ranking chose them."""
    return (
        f"SELECT {hit_columns('?')}, {body_column(include_bodies)},"
        f" snippet(messages_fts, -1, '[', ']', '…', {SNIPPET_TOKENS}), {score}"
        " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
        " LEFT JOIN deliveries d ON d.agent_id = ? AND d.message_id = m.id"
    )
