"""A search hit as both storage backends return it: one flat row, already in its viewer's view.

Why a row and not a :class:`~agentmail_server.domain.models.Message` with a wrapper: a page of
20 hits went row -> Message -> Hit -> reader's view -> SearchResult -> wire dict, five Python
objects a hit of which the wire needs none (about 15 µs a hit, 300 µs of a 1,000-message
top-20 search, measured with ``bench.read_ladder``). The rows carry exactly the wire's fields,
and the wire dicts are built from them in one pass (``rpc.search_wire``).

The bcc list is the one :meth:`Message.seen_by` gives the viewer (all of it for the sender,
the viewer's own name for a bcc recipient, nothing for anyone else), computed by the backend in
the same statement that checks visibility (``storage.search_filters.hit_columns``), so a
hidden name never leaves the database.
"""

from __future__ import annotations

from typing import Any

# A hit: the values at these positions (comma-joined names, as stored: see storage rows).
HitRow = tuple[Any, ...]
ID = 0
SENDER = 1
THREAD = 2
SUBJECT = 3
IMPORTANCE = 4
ACK_REQUIRED = 5
TOPIC = 6
TO = 7
CC = 8
BCC = 9  # the viewer's view of it (see the module docstring)
CREATED = 10
BODY_SIZE = 11
BODY = 12  # None when the request asked for envelopes
SNIPPET = 13
SCORE = 14  # relevance (higher is better) where the backend scored the row; 0 where not


def in_order(rows: list[HitRow], ids: list[int]) -> list[HitRow]:
    """``rows`` in the order of ``ids``; ids without a row are left out."""
    by_id = {row[ID]: row for row in rows}
    return [by_id[mid] for mid in ids if mid in by_id]
