"""Full-text search on PostgreSQL behind the query syntax of :mod:`domain.search_query`.

The services render a parsed query as an FTS5 MATCH expression (:func:`search_query.to_fts`,
the :class:`~agentmail_server.storage.ports.SearchReads` contract); this module reads that
rendering back (a small, fixed grammar we write ourselves: quoted terms, ``*`` prefixes,
``col : (...)`` filters, parenthesised ``AND``/``OR``/``NOT``) and writes the equivalent
``tsquery`` text, so both backends accept exactly the same user syntax.

Tokens as FTS5 ``unicode61 remove_diacritics 2`` makes them: text is folded (NFD, combining
marks dropped, lower case; compatibility forms such as full-width letters stay distinct, as in
FTS5) and every run of characters that are not letters or digits separates
words, before PostgreSQL's ``simple`` configuration sees it (no stemming, no stop words, as
FTS5). The writer folds subject and body this way into ``messages.search`` (subject weight A,
body weight B); a quoted term becomes a phrase of its words (``<->``), a prefix ``:*`` on the
last word, a ``subject:``/``body:`` filter the weight restriction ``:A``/``:B`` (a filter
inside a filter of the other column matches nothing, as in FTS5).

Snippets are cut here rather than by ``ts_headline``, the way FTS5's ``snippet()`` cuts them:
the 16-word window of the subject or the body with the most matching words, each match in
brackets, with ``…`` where the window cuts the text.

Ranking differs from SQLite's: ``ts_rank`` with weights {D, C, B, A} = {0, 0, 0.25, 1} (a
subject match counts four times a body match, as the FTS5 bm25 weights do) instead of bm25,
which has no document-length saturation or inverse document frequency; ties still break by id.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

_NOT_WORD = re.compile(r"[\W_]+")
_WORD = re.compile(r"[^\W_]+")
# Words in a snippet's window, as FTS5's snippet() takes 16 tokens.
SNIPPET_WORDS = 16
# Matches nothing: the query of a filter nested inside a filter of another column.
NOTHING = "('x' & !'x')"
_TOKEN = re.compile(
    r'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<term>(?:[^"]|"")*)"(?P<star> \*)?'
    r"|(?P<word>[A-Za-z]+)(?P<colon> :)?)"
)
WEIGHTS = "{0, 0, 0.25, 1}"
_COLUMN_WEIGHT = {"subject": "A", "body": "B"}


def fold(text: str) -> str:
    """``text`` as the index sees it: diacritics dropped, lower case, words separated by one
    space."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", stripped.lower()).split())


def to_tsquery(match: str) -> str:
    """The ``to_tsquery('simple', ...)`` text of an FTS5 expression from ``to_fts``.

    Raises:
        ValueError: ``match`` is not something ``to_fts`` renders (a bug, not user input).
    """
    tokens = _tokens(match)
    query, rest = _expr(tokens, None)
    if rest:
        raise ValueError(f"unexpected {rest[0]!r} in {match!r}")
    return query


def _tokens(match: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(match.rstrip()):
        m = _TOKEN.match(match, position)
        if m is None:
            raise ValueError(f"cannot read {match[position:]!r}")
        position = m.end()
        if m.group("open"):
            found.append(("open", "("))
        elif m.group("close"):
            found.append(("close", ")"))
        elif m.group("term") is not None:
            kind = "prefix" if m.group("star") else "term"
            found.append((kind, m.group("term").replace('""', '"')))
        elif m.group("colon"):
            found.append(("column", m.group("word")))
        else:
            found.append(("op", m.group("word")))
    return found


def _expr(tokens: list[tuple[str, str]], weight: str | None) -> tuple[str, list[tuple[str, str]]]:
    """One rendered node: a term, ``col : (node)`` or ``(node OP node)``."""
    if not tokens:
        raise ValueError("the expression ends early")
    (kind, text), rest = tokens[0], tokens[1:]
    if kind in ("term", "prefix"):
        return _phrase(text, kind == "prefix", weight), rest
    if kind == "column":
        column = _COLUMN_WEIGHT[text]
        inner, rest = _expr(rest, column)
        return (NOTHING if weight not in (None, column) else inner), rest
    if kind != "open":
        raise ValueError(f"unexpected {text!r}")
    left, rest = _expr(rest, weight)
    if rest and rest[0][0] == "close":  # a column filter's "(node)"
        return left, rest[1:]
    if not rest or rest[0][0] != "op":
        raise ValueError("an operator is missing")
    op = rest[0][1]
    right, rest = _expr(rest[1:], weight)
    if not rest or rest[0][0] != "close":
        raise ValueError("a ')' is missing")
    joined = {"AND": "&", "OR": "|", "NOT": "& !"}[op]
    return f"({left} {joined} {right})", rest[1:]


def _phrase(text: str, prefix: bool, weight: str | None) -> str:
    words = fold(text).split()
    if not words:
        # No letters or digits: the parser drops such words, so this cannot match anything.
        raise ValueError(f"term {text!r} has no words")
    marks = [weight or ""] * len(words)
    if prefix:
        marks[-1] = "*" + marks[-1]
    rendered = [f"'{w}':{m}" if m else f"'{w}'" for w, m in zip(words, marks, strict=True)]
    joined = " <-> ".join(rendered)
    return f"({joined})" if len(rendered) > 1 else joined


def query_words(match: str) -> list[tuple[str, bool]]:
    """The folded words of an FTS5 expression's terms, each with whether it is a prefix (only
    the last word of a prefix term is)."""
    found: list[tuple[str, bool]] = []
    for kind, text in _tokens(match):
        if kind in ("term", "prefix"):
            words = fold(text).split()
            found.extend(
                (word, kind == "prefix" and i == len(words) - 1) for i, word in enumerate(words)
            )
    return found


def snippet(subject: str, body: str, words: list[tuple[str, bool]]) -> str:
    """The excerpt of the subject or the body (the one with more matching words in its best
    window, the subject on a tie) with each matching word in brackets."""
    best = ""
    best_hits = -1
    for text in (subject, body):
        excerpt, hits = _window(text, words)
        if hits > best_hits:
            best, best_hits = excerpt, hits
    return best


def _matches(token: str, words: list[tuple[str, bool]]) -> bool:
    folded = fold(token)
    return any(folded.startswith(w) if prefix else folded == w for w, prefix in words)


def _window(text: str, words: list[tuple[str, bool]]) -> tuple[str, int]:
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not spans:
        return text, 0
    hit = [_matches(text[a:b], words) for a, b in spans]
    size = min(SNIPPET_WORDS, len(spans))
    running = [0, *itertools.accumulate(hit)]  # hits before each word: each window in O(1)
    counts = [running[i + size] - running[i] for i in range(len(spans) - size + 1)]
    first = max(range(len(counts)), key=lambda i: (counts[i], -i))
    last = first + size - 1
    # The whole text when the window holds every word; else from its first word to its last.
    start = 0 if first == 0 else spans[first][0]
    end = len(text) if last == len(spans) - 1 else spans[last][1]
    pieces: list[str] = ["…" if first > 0 else ""]
    cursor = start
    for (a, b), matched in zip(spans[first : last + 1], hit[first : last + 1], strict=True):
        if matched:
            pieces.append(f"{text[cursor:a]}[{text[a:b]}]")
            cursor = b
    pieces.append(text[cursor:end])
    pieces.append("…" if last < len(spans) - 1 else "")
    return "".join(pieces), counts[first]
