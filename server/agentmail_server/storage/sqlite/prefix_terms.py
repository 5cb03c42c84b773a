"""Prefix terms stood for the words they cover, read from the index itself, before FTS5 runs.

Why: FTS5 (SQLite 3.40) answers a prefix term such as ``deplo*`` by merging the doclists of
every word it covers into one list in memory, and it does so again for each statement and
again for bm25's statistics. A relevance search runs two statements (the ranking and the
page's hits), so at 1,000,000 messages, where ``deplo*`` covers three words in 15 % of
them, it paid about four such merges: 13 ms to rank and 5 ms for the hits, measured in
process on 2026-11-30. The words a prefix covers are read here from the index's own
vocabulary (``messages_fts_terms``, an ``fts5vocab`` table: schema version 12), and the
prefix becomes their OR: ``("deploy" OR "deployed" OR "deployment")``. FTS5 merges the OR's
doclists lazily, newest first, and stops at the query's LIMIT. The same search then took
2.6 ms for the words, 4.6 ms to rank and 0.3 ms for the hits.

What a search finds does not change: an FTS5 prefix matches exactly the indexed words that
begin with it, which is the range read here, in the same read transaction as the search, so
the words and the index agree. Snippets mark the same words. What changes is relevance: bm25
weighs each word by its own rarity instead of the prefix as one word.

Which prefixes, and the bounds:

* only a whole term of letters and digits in ASCII (``deplo*``, not ``"auth migr"*`` nor
  ``café*``): for ASCII the tokenizer (``unicode61``) only lower-cases, so the range to read is
  known. Words folded from other scripts or accents (``déployé`` is indexed as ``deploye``)
  are in the index's vocabulary and so are found.
* at most :data:`MAX_WORDS_PER_PREFIX` words each and :data:`MAX_WORDS` in all: a prefix that
  covers more (``a*``) stays a prefix, and FTS5 merges it as before. Reading the vocabulary
  stops one word past the bound; it costs about what FTS5 would spend merging those words.
* the rendered MATCH expression (:func:`agentmail_server.domain.search_query.render`) is
  scanned, not re-parsed: outside quoted strings it holds only parentheses, operators, column
  names and ``*``, and a quoted string ends at a lone ``"`` (``""`` is a quote inside it).
"""

from __future__ import annotations

import sqlite3

MAX_WORDS_PER_PREFIX = 32
MAX_WORDS = 64

_WORDS = "SELECT term FROM messages_fts_terms WHERE term >= ? AND term < ? ORDER BY term LIMIT ?"
_PREFIX_TAIL = " *"


def expandable(match: str) -> bool:
    """Whether ``match`` has a prefix term :func:`expand` might stand for its words (if not,
    it returns ``match`` without reading anything)."""
    return "*" in match


def expand(conn: sqlite3.Connection, match: str) -> str:
    """``match`` with each eligible prefix term replaced by the OR of the words it covers.

    Reads ``messages_fts_terms`` on ``conn``: call it inside the read transaction of the
    statements that use the result.
    """
    if not expandable(match):
        return match
    out: list[str] = []
    budget = MAX_WORDS
    position = 0
    while position < len(match):
        start = match.find('"', position)
        if start < 0:
            out.append(match[position:])
            break
        end = _string_end(match, start)
        out.append(match[position:start])
        text = match[start + 1 : end].replace('""', '"')
        position = end + 1
        if match.startswith(_PREFIX_TAIL, position) and _eligible(text):
            words = _words(conn, text.lower(), min(MAX_WORDS_PER_PREFIX, budget))
            if words:
                budget -= len(words)
                out.append("(" + " OR ".join(f'"{word}"' for word in words) + ")")
                position += len(_PREFIX_TAIL)
                continue
        out.append(match[start:position])
    return "".join(out)


def _string_end(match: str, start: int) -> int:
    """The index of the quote closing the FTS5 string that opens at ``start``."""
    index = start + 1
    while True:
        index = match.find('"', index)
        if index < 0:
            raise ValueError("unterminated string in a MATCH expression")
        if match.startswith('""', index):
            index += 2
            continue
        return index


def _eligible(text: str) -> bool:
    return text.isascii() and text.isalnum()


def _words(conn: sqlite3.Connection, prefix: str, bound: int) -> list[str]:
    """The indexed words beginning with ``prefix``; empty when none, or more than ``bound``."""
    if bound <= 0:
        return []
    # ASCII letters and digits: the byte after the prefix's last, so every word beginning with
    # the prefix sorts in [prefix, upper).
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = conn.execute(_WORDS, (prefix, upper, bound + 1)).fetchall()
    if len(rows) > bound:
        return []
    # Words of letters and digits in any script, as the tokenizer made them: no quote inside
    # to escape, but escaped anyway so no word can ever end the string early.
    return [str(row[0]).replace('"', '""') for row in rows]
