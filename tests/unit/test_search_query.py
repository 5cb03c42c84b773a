"""The search query parser: the tree it builds, the FTS5 expression it renders, the errors it
raises - and that whatever it renders is accepted by a real FTS5 table."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator

import pytest
from agentmail_server.domain import search_query
from agentmail_server.domain.search_query import Binary, Field, Term, parse, render, to_fts
from agentmail_server.errors import InvalidArgument


def AND(left, right):
    return Binary("AND", left, right)


def OR(left, right):
    return Binary("OR", left, right)


def NOT(left, right):
    return Binary("NOT", left, right)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("auth", Term("auth")),
        ("  auth  ", Term("auth")),
        ("auth tokens", AND(Term("auth"), Term("tokens"))),
        ("a b c", AND(AND(Term("a"), Term("b")), Term("c"))),
        ('"auth migration"', Term("auth migration")),
        ('"auth migration', Term("auth migration")),
        ('"auth mig"*', Term("auth mig", prefix=True)),
        ("auth*", Term("auth", prefix=True)),
        ("auth**", Term("auth", prefix=True)),
        ("a*b", Term("a*b")),
        ("a AND b", AND(Term("a"), Term("b"))),
        ("a OR b", OR(Term("a"), Term("b"))),
        ("a NOT b", NOT(Term("a"), Term("b"))),
        ("a OR b c", OR(Term("a"), AND(Term("b"), Term("c")))),
        ("a b OR c", OR(AND(Term("a"), Term("b")), Term("c"))),
        ("a b NOT c", AND(Term("a"), NOT(Term("b"), Term("c")))),
        ("a NOT b NOT c", NOT(NOT(Term("a"), Term("b")), Term("c"))),
        ("a OR b NOT c", OR(Term("a"), NOT(Term("b"), Term("c")))),
        ("(a OR b) c", AND(OR(Term("a"), Term("b")), Term("c"))),
        ("a (b OR c)", AND(Term("a"), OR(Term("b"), Term("c")))),
        ("((a))", Term("a")),
        ("a or b", AND(AND(Term("a"), Term("or")), Term("b"))),
        ("subject:auth", Field("subject", Term("auth"))),
        ("body:auth*", Field("body", Term("auth", prefix=True))),
        ('subject:"a b"', Field("subject", Term("a b"))),
        ("subject:(a OR b)", Field("subject", OR(Term("a"), Term("b")))),
        ("subject:a b", AND(Field("subject", Term("a")), Term("b"))),
        ("subject:", Term("subject:")),
        ("subject: a", AND(Term("subject:"), Term("a"))),
        ("Subject:a", Term("Subject:a")),
        ("rowid:1", Term("rowid:1")),
        ("POL-358", Term("POL-358")),
        ("foo.bar", Term("foo.bar")),
        ("a/b/c", Term("a/b/c")),
        ('x"y"z', AND(AND(Term("x"), Term("y")), Term("z"))),
        ("a - b", AND(Term("a"), Term("b"))),
        ("- a", Term("a")),
        ("a OR -", Term("a")),
        ("subject:- a", Term("a")),
        ("NEAR(a b)", AND(Term("NEAR"), AND(Term("a"), Term("b")))),
    ],
)
def test_parse_builds_the_expected_tree(query: str, tree: object) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "fts"),
    [
        ("auth", '"auth"'),
        ("auth*", '"auth" *'),
        ("POL-358", '"POL-358"'),
        ("a OR b c", '("a" OR ("b" AND "c"))'),
        ("a NOT b", '("a" NOT "b")'),
        ('subject:"a b"*', 'subject : ("a b" *)'),
        ("body:(a OR b)", 'body : (("a" OR "b"))'),
        ("{subject body}: x", '(("{subject" AND "body}:") AND "x")'),
        ("^start", '"^start"'),
        ("messages_fts:x", '"messages_fts:x"'),
    ],
)
def test_render_quotes_every_term_and_parenthesises_every_operator(query: str, fts: str) -> None:
    assert to_fts(query) == fts


def test_render_doubles_quotes_inside_a_term() -> None:
    assert render(Term('a"b')) == '"a""b"'
    assert render(Term('"', prefix=True)) == '"""" *'


def rejection(query: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        parse(query)
    error = caught.value
    assert error.reason == "INVALID_QUERY"
    assert [v.field for v in error.violations] == ["query"]
    return error


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("", "required"),
        (" \t\n", "required"),
        ("AND", "AND"),
        ("NOT a", "NOT"),
        ("a OR", "ends"),
        ("a NOT", "ends"),
        ("OR a", "OR"),
        ("a AND AND b", "AND"),
        ("*", "*"),
        ("a *", "*"),
        ("(a", "("),
        ("a)", ")"),
        ("()", ")"),
        ("subject:)", ")"),
        ("subject:NOT", "NOT"),
        ('"', "searchable"),
        ("- / .", "searchable"),
        ("(" * 17 + "a" + ")" * 17, "16"),
        ("subject:" * 17 + "a", "16"),
        ("x" * 1001, "1000"),
        (" ".join(["a"] * 65), "64"),
    ],
)
def test_unparseable_queries_raise_invalid_query(query: str, mentions: str) -> None:
    assert mentions in rejection(query).message


def test_limits_are_inclusive() -> None:
    assert parse("(" * 16 + "a" + ")" * 16) == Term("a")
    parse("x" * search_query.MAX_QUERY_CHARS)
    parse(" ".join(["a"] * search_query.MAX_TERMS))


ALPHABET = [
    *("AND", "OR", "NOT", "and", "NEAR", "subject:", "body:", "rowid:", "messages_fts:", "col:"),
    *('"', "(", ")", "*", "^", "+", "-", ":", "{", "}", ",", ".", "/", "'", "\\", ";"),
    *("auth", "POL-358", "foo.bar", "a/b/c", "café", "x", "1", "é", "ß", "\u0301", "\u200b"),
    *("\x00", "\x01", "😀", " ", " ", "\t"),
]


def random_queries(seed: int, count: int) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(count):
        pieces = rng.choices(ALPHABET, k=rng.randint(1, 16))
        yield rng.choice(["", " "]).join(pieces)


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    """An in-memory FTS5 table with the server's columns and tokenizer."""
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(subject, body,"
        " tokenize='unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "INSERT INTO messages_fts VALUES ('auth POL-358', 'foo.bar a/b/c café x 1 ß rowid')"
    )
    yield conn
    conn.close()


def test_every_rendered_expression_is_valid_fts5(fts: sqlite3.Connection) -> None:
    broken = []
    outcomes = {"rendered": 0, "rejected": 0}
    for query in random_queries(seed=6, count=3000):
        try:
            expression = to_fts(query)
        except InvalidArgument as error:
            assert error.reason == "INVALID_QUERY"
            outcomes["rejected"] += 1
            continue
        outcomes["rendered"] += 1
        try:
            fts.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?", (expression,))
        except sqlite3.Error as error:
            broken.append((query, expression, str(error)))
    assert not broken, f"{len(broken)} rendered expressions FTS5 rejects, e.g. {broken[:5]}"
    assert outcomes["rendered"] > 300 and outcomes["rejected"] > 300, outcomes


def test_a_nul_character_never_reaches_fts5(fts: sqlite3.Connection) -> None:
    for query in ("a\x00", "\x00a", '"a\x00b"', "subject:a\x00b"):
        try:
            expression = to_fts(query)
        except InvalidArgument as error:
            assert error.reason == "INVALID_QUERY"
            continue
        fts.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?", (expression,))
