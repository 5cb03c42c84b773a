"""The search query language, parsed by us and rendered as a safe FTS5 MATCH expression.

Users type words, "quoted phrases", prefix*, AND / OR / NOT (upper case, ``a NOT b``),
parentheses and ``subject:`` / ``body:`` filters. Nothing the user types reaches FTS5 as
syntax: every word and phrase is rendered as a quoted FTS5 string (so ``POL-358``, ``foo.bar``
or ``a/b/c`` become phrases of their tokens, and column or operator syntax inside them is
inert), and operators are rendered from the parse tree with explicit parentheses. A query that
cannot be understood raises :class:`InvalidArgument` saying what is wrong.
"""

from __future__ import annotations

import dataclasses
import re

from agentmail_server.errors import invalid

MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
MAX_DEPTH = 16
FIELDS = ("subject", "body")
OPERATORS = ("AND", "OR", "NOT")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<field>(?:subject|body):)(?=\S)"
    r'|"(?P<phrase>[^"]*)("|$)(?P<pstar>\*)?|(?P<word>[^\s()"]+))'
)


@dataclasses.dataclass(frozen=True)
class Term:
    """A word or phrase, optionally a prefix."""

    text: str
    prefix: bool = False


@dataclasses.dataclass(frozen=True)
class Field:
    """An expression restricted to one column."""

    column: str
    expr: Node


@dataclasses.dataclass(frozen=True)
class Binary:
    """``left OP right`` for AND, OR and NOT."""

    op: str
    left: Node
    right: Node


Node = Term | Field | Binary


def _bad(description: str) -> Exception:
    return invalid("query", description, "INVALID_QUERY")


def _tokens(query: str) -> list[tuple[str, str, bool]]:
    """(kind, text, prefix) tokens; kind is one of open, close, field, op, term."""
    tokens: list[tuple[str, str, bool]] = []
    position = 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            break  # only trailing white space is left
        position = match.end()
        if match.group("open"):
            tokens.append(("open", "(", False))
        elif match.group("close"):
            tokens.append(("close", ")", False))
        elif match.group("field"):
            tokens.append(("field", match.group("field")[:-1], False))
        elif match.group("phrase") is not None:
            tokens.append(("term", match.group("phrase"), bool(match.group("pstar"))))
        else:
            word = match.group("word")
            if word in OPERATORS:
                tokens.append(("op", word, False))
            elif word.strip("*") == "":
                raise _bad("'*' must follow a word, as in auth* (prefix search)")
            else:
                tokens.append(("term", word.rstrip("*"), word.endswith("*")))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, bool]]) -> None:
        self._tokens = tokens
        self._index = 0
        self._terms = 0

    def _peek(self) -> tuple[str, str, bool] | None:
        return self._tokens[self._index] if self._index < len(self._tokens) else None

    def _next(self) -> tuple[str, str, bool]:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def parse(self) -> Node | None:
        node = self._or(0)
        leftover = self._peek()
        if leftover is not None:
            raise _bad(
                "unbalanced ')'" if leftover[0] == "close" else f"unexpected {leftover[1]!r}"
            )
        return node

    def _or(self, depth: int) -> Node | None:
        left = self._and(depth)
        while (token := self._peek()) is not None and token[:2] == ("op", "OR"):
            self._next()
            left = _combine("OR", left, self._and(depth))
        return left

    def _and(self, depth: int) -> Node | None:
        left = self._not(depth)
        while (token := self._peek()) is not None and (
            token[:2] == ("op", "AND") or token[0] in ("term", "open", "field")
        ):
            if token[0] == "op":
                self._next()
            left = _combine("AND", left, self._not(depth))
        return left

    def _not(self, depth: int) -> Node | None:
        left = self._primary(depth)
        while (token := self._peek()) is not None and token[:2] == ("op", "NOT"):
            self._next()
            right = self._primary(depth)
            if left is None:
                raise _bad("NOT needs something before it: write 'deploy NOT staging'")
            left = left if right is None else Binary("NOT", left, right)
        return left

    def _primary(self, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            raise _bad(f"parentheses nest deeper than {MAX_DEPTH}")
        token = self._peek()
        if token is None:
            raise _bad("the query ends where a word was expected")
        kind, text, prefix = self._next()
        if kind == "open":
            node = self._or(depth + 1)
            closing = self._peek()
            if closing is None or closing[0] != "close":
                raise _bad("unbalanced '(': a ')' is missing")
            self._next()
            return node
        if kind == "field":
            inner = self._primary(depth + 1)
            return None if inner is None else Field(text, inner)
        if kind == "term":
            self._terms += 1
            if self._terms > MAX_TERMS:
                raise _bad(f"more than {MAX_TERMS} words")
            # Words without letters or digits index nothing; they drop out of the query.
            return Term(text, prefix) if any(ch.isalnum() for ch in text) else None
        if kind == "close":
            raise _bad("unbalanced ')'")
        raise _bad(f"{text} needs a word on both sides")


def _combine(op: str, left: Node | None, right: Node | None) -> Node | None:
    if left is None:
        return right
    if right is None:
        return left
    return Binary(op, left, right)


def parse(query: str) -> Node:
    """Parse a user query.

    Raises:
        InvalidArgument: INVALID_QUERY with a description of the problem.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise _bad(f"at most {MAX_QUERY_CHARS} characters (got {len(query)})")
    if not query.strip():
        raise _bad("is required")
    # Control characters (NUL cuts an FTS5 expression short) separate words like spaces.
    query = _CONTROL.sub(" ", query)
    node = _Parser(_tokens(query)).parse()
    if node is None:
        raise _bad("has no searchable words (letters or digits)")
    return node


def render(node: Node) -> str:
    """The FTS5 MATCH expression for a parsed query."""
    if isinstance(node, Term):
        quoted = '"' + node.text.replace('"', '""') + '"'
        return quoted + " *" if node.prefix else quoted
    if isinstance(node, Field):
        return f"{node.column} : ({render(node.expr)})"
    return f"({render(node.left)} {node.op} {render(node.right)})"


def to_fts(query: str) -> str:
    """Parse and render in one step."""
    return render(parse(query))
