"""Every form of the query language against a small corpus: words, phrases, prefixes,
AND / OR / NOT, parentheses, subject: / body: filters, and punctuated tokens as phrases."""

from __future__ import annotations

import pytest

CORPUS = {
    "a": ("Auth migration plan", "we move tokens to the new store"),
    "b": ("Release notes", "the auth service restarts nightly"),
    "c": ("POL-358 follow up", "see foo.bar and the path a/b/c for details"),
    "d": ("Database tuning", "vacuum and analyze; authentication is fine"),
    "e": ("Migration done", "nothing about tokens here"),
    "f": ("Café opening", "the café near the office opens at nine"),
    "g": ("Misc", "bar.foo and c/b/a and POL 359"),
}

CASES = [
    # words: all must match, case-insensitively
    ("auth", "ab"),
    ("AUTH", "ab"),
    ("auth migration", "a"),
    ("migration tokens", "ae"),
    ("tokens", "ae"),
    # phrases: adjacent and in order
    ('"auth migration"', "a"),
    ('"migration auth"', ""),
    ('"tokens to the new"', "a"),
    ('"new store" move', "a"),
    # prefix
    ("auth*", "abd"),
    ("migr*", "ae"),
    ('"auth mig"*', "a"),
    ("AUTH*", "abd"),
    ("auth* NOT nightly", "ad"),
    ("zzz*", ""),
    ("caf*", "f"),  # "Café" is indexed as "cafe": the prefix covers it
    ("café*", "f"),
    # operators
    ("auth AND tokens", "a"),
    ("auth OR vacuum", "abd"),
    ("migration NOT auth", "e"),
    ("tokens NOT plan", "e"),
    ("auth NOT nightly NOT store", ""),
    ("vacuum OR nightly OR details", "bcd"),
    ("auth OR vacuum tokens", "ab"),  # AND binds tighter than OR: auth OR (vacuum AND tokens)
    ("tokens OR auth NOT nightly", "ae"),  # NOT binds tightest: tokens OR (auth NOT nightly)
    # lower-case operators are plain words
    ("auth or vacuum", ""),
    ("migration not auth", ""),
    # parentheses
    ("(release OR database) AND nightly", "b"),
    ("migration (tokens OR done)", "ae"),
    ("(auth OR vacuum) NOT (nightly OR store)", "d"),
    ("((auth))", "ab"),
    ("(auth OR (vacuum AND fine)) (service OR tokens)", "ab"),
    # field filters on a word, a phrase, a group, a prefix
    ("subject:auth", "a"),
    ("body:auth", "b"),
    ("subject:migration", "ae"),
    ("body:migration", ""),
    ('subject:"migration done"', "e"),
    ('body:"new store"', "a"),
    ('subject:"new store"', ""),
    ("subject:(auth OR tuning)", "ad"),
    ("body:(tokens NOT new)", "e"),
    ("subject:migr*", "ae"),
    ("body:auth*", "bd"),
    ("subject:auth OR body:vacuum", "ad"),
    ("subject:migration body:tokens", "ae"),
    ("subject:(migration NOT plan) body:tokens", "e"),
    # punctuated tokens are phrases of their parts
    ("POL-358", "c"),
    ("pol-358", "c"),
    ("POL-359", "g"),  # "POL 359" in g: punctuation separates tokens the same way
    ("POL-360", ""),
    ("foo.bar", "c"),
    ("bar.foo", "g"),
    ("foo.baz", ""),
    ("a/b/c", "c"),
    ("c/b/a", "g"),
    ("subject:POL-358", "c"),
    ("body:POL-358", ""),
    ("body:foo.bar", "c"),
    ("POL-358 OR foo.bar", "c"),
    ("POL-3*", "cg"),
    # diacritics fold
    ("cafe", "f"),
    ("café", "f"),
    ("CAFÉ", "f"),
]


@pytest.fixture
async def corpus(send, alice, bob):
    """Name -> id of each corpus message (Alice to Bob)."""
    return {
        name: (await send(alice, to=["Bob"], subject=subject, body=body)).id
        for name, (subject, body) in CORPUS.items()
    }


async def test_every_query_form_matches_the_expected_messages(corpus, search_ids, bob):
    wrong = []
    for query, expected in CASES:
        found = await search_ids(bob, query)
        names = "".join(sorted(name for name, id_ in corpus.items() if id_ in found))
        if names != expected:
            wrong.append((query, expected, names))
    assert not wrong, "query, expected, got:\n" + "\n".join(map(repr, wrong))


async def test_an_unclosed_phrase_is_closed_at_the_end_of_the_query(corpus, search_ids, bob):
    assert await search_ids(bob, '"auth migration') == {corpus["a"]}
    assert await search_ids(bob, 'tokens "new store') == {corpus["a"]}
    assert await search_ids(bob, 'subject:"migration done') == {corpus["e"]}


async def test_quotes_and_parentheses_inside_words_split_them(corpus, search_ids, bob):
    assert await search_ids(bob, 'mig"ration') == set()  # "mig" AND "ration"
    assert await search_ids(bob, 'auth"migration"') == {corpus["a"]}
    assert await search_ids(bob, "auth(migration)") == {corpus["a"]}


async def test_words_without_letters_or_digits_drop_out(corpus, search_ids, bob):
    assert await search_ids(bob, "auth - tokens") == {corpus["a"]}
    assert await search_ids(bob, "auth ... & tokens") == {corpus["a"]}
    assert await search_ids(bob, "auth OR -") == {corpus["a"], corpus["b"]}


async def test_a_query_of_exactly_1000_characters_is_accepted(corpus, search_ids, bob):
    query = "auth " + "x" * 995
    assert len(query) == 1000
    assert await search_ids(bob, query) == set()
    assert await search_ids(bob, "auth" + " " * 996) == {corpus["a"], corpus["b"]}


async def test_sixteen_nested_parentheses_are_accepted(corpus, search_ids, bob):
    assert await search_ids(bob, "(" * 16 + "tokens" + ")" * 16) == {corpus["a"], corpus["e"]}


async def test_sixty_four_words_are_accepted(corpus, search_ids, bob):
    query = " OR ".join(["auth"] + [f"zz{i}" for i in range(63)])
    assert await search_ids(bob, query) == {corpus["a"], corpus["b"]}
