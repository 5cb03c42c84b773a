"""Hostile queries: each is either rejected with INVALID_ARGUMENT / INVALID_QUERY on field
``query`` or answered sensibly (FTS5 syntax typed by the user stays inert) - never INTERNAL."""

from __future__ import annotations

import random

import grpc
import pytest
from agentmail.v1 import search_service_pb2 as spb

INVALID = grpc.StatusCode.INVALID_ARGUMENT

CORPUS = (
    ("Auth migration", "move tokens to the new store near the gate"),
    ("Release notes", "the auth service restarts nightly"),
    ("Start here", "rowid 1 is not special; start with the readme"),
)

# Queries the parser must reject, with a word of what its message should mention.
REJECTED = [
    ("", "required"),
    ("   ", "required"),
    ("\t\n", "required"),
    ("AND", "AND"),
    ("OR", "OR"),
    ("NOT", "NOT"),
    ("NOT auth", "NOT"),
    ("auth OR", "word"),
    ("auth AND", "word"),
    ("auth NOT", "word"),
    ("OR auth", "OR"),
    ("auth AND AND tokens", "AND"),
    ("auth OR OR tokens", "OR"),
    ("auth NOT NOT tokens", "NOT"),
    ("auth (OR) tokens", "OR"),
    ("*", "*"),
    ("**", "*"),
    ("auth *", "*"),
    ("(auth", "("),
    ("auth)", ")"),
    ("((auth)", "("),
    ("(auth))", ")"),
    ("()", ")"),
    (")(", ")"),
    ('"', "searchable"),
    ('""', "searchable"),
    ("- . / ,", "searchable"),
    ("auth'); DROP TABLE messages_fts; --", ")"),
    ("(" * 17 + "auth" + ")" * 17, "16"),
    ("x" * 1001, "1000"),
    ("auth " * 2048, "1000"),  # 10 KB
    ("a" * 10_240, "1000"),
    (" OR ".join(f"w{i}" for i in range(65)), "64"),
]

# Queries that must succeed; the ids (by corpus index) they must find. FTS5 syntax in them is
# treated as words, so, e.g., NEAR(...) looks for the word "near".
ACCEPTED = [
    ('"auth migration', {0}),
    ('auth "', {0, 1}),
    ('auth"', {0, 1}),
    ("{subject body}: auth", set()),
    ("{subject}: auth", set()),
    ("rowid:1", {2}),  # the phrase "rowid 1"
    ("rowid:2", set()),
    ("messages_fts:auth", set()),
    ("messages_fts: auth", set()),
    ("messages:auth", set()),
    ("NEAR(tokens store)", {0}),  # the words near, tokens, store
    ("NEAR(auth nightly)", set()),
    ("NEAR(auth nightly, 10)", set()),
    ("^auth", {0, 1}),  # ^ is not the initial-token operator: auth anywhere
    ("^start", {2}),
    ("col:auth", set()),
    ("title:auth", set()),
    ("Subject:auth", set()),  # field names are lower case; this is the phrase "subject auth"
    ("subject :auth", set()),
    ('"auth" + "migration"', {0}),
    ('"auth"+"service"', {1}),
    ("auth+migration", {0}),
    ('au"th', set()),
    ('"a""b"', set()),
    ("auth:", {0, 1}),
    ("-auth", {0, 1}),
    ("auth*tokens", set()),
    ("*auth", {0, 1}),
    ("auth**", {0, 1}),
    ("subject:subject:auth", {0}),
    ("subject:(body:auth)", set()),
    ("'auth'", {0, 1}),
    ("auth;DROP TABLE messages", set()),
    ("auth' OR 1=1 --", {0, 1}),
    ("subject:", set()),  # a field name before nothing is the word "subject"
    ("\\auth", {0, 1}),
    ("auth\u200b", {0, 1}),  # zero-width space separates tokens
    ("\uff41\uff55\uff54\uff48", set()),  # full-width "auth": other tokens
    ("(" * 16 + "auth" + ")" * 16, {0, 1}),
]


@pytest.fixture
async def corpus(send, alice, bob):
    return [
        (await send(alice, to=["Bob"], subject=subject, body=body)).id for subject, body in CORPUS
    ]


@pytest.mark.parametrize(("query", "mentions"), REJECTED, ids=lambda v: repr(v)[:40])
async def test_unparseable_queries_are_invalid_query_on_field_query(
    corpus, search, expect_error, bob, query, mentions
):
    failure = await expect_error(search(bob, query), INVALID, "INVALID_QUERY", field="query")
    assert mentions in failure.message, failure


async def test_accepted_hostile_queries_find_only_literal_matches(corpus, search_ids, bob):
    wrong = []
    for query, expected in ACCEPTED:
        found = await search_ids(bob, query)
        got = {index for index, id_ in enumerate(corpus) if id_ in found}
        if got != expected:
            wrong.append((query, expected, got))
    assert not wrong, "query, expected, got:\n" + "\n".join(map(repr, wrong))


async def test_control_characters_in_a_query_do_not_fail_the_call(
    corpus, search_ids, rpc_failure, bob
):
    """U+0000 and other control characters are valid in a proto string."""
    failed = []
    for query in ("auth\x00", "\x00auth", '"auth\x00migration"', "auth\x01", "auth\x1b[0m"):
        try:
            await search_ids(bob, query)
        except grpc.aio.AioRpcError as err:
            failure = rpc_failure(err)
            if (failure.code, failure.reason) != (INVALID, "INVALID_QUERY"):
                failed.append((query, failure.code, failure.reason))
    assert not failed


async def test_other_request_fields_are_validated(corpus, search, expect_error, bob):
    await expect_error(
        search(bob, "auth", page_size=-1), INVALID, "INVALID_ARGUMENT", field="page_size"
    )
    await expect_error(
        search(bob, "auth", min_importance=99),
        INVALID,
        "UNKNOWN_ENUM_VALUE",
        field="min_importance",
    )
    await expect_error(
        search(bob, "auth", thread_id="t" * 129), INVALID, "INVALID_ARGUMENT", field="thread_id"
    )
    await expect_error(
        search(bob, "auth", topic="t" * 65), INVALID, "INVALID_ARGUMENT", field="topic"
    )


async def test_search_needs_a_valid_token(corpus, search_stub, expect_error):
    request = spb.SearchMessagesRequest(query="auth")
    await expect_error(
        search_stub.SearchMessages(request), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING"
    )
    await expect_error(
        search_stub.SearchMessages(request, metadata=(("authorization", "Bearer am_nope"),)),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_INVALID",
    )


ALPHABET = [
    *("AND", "OR", "NOT", "and", "or", "NEAR", "subject:", "body:", "rowid:", "messages_fts:"),
    *('"', '"', "(", ")", "(", ")", "*", "^", "+", "-", ":", "{", "}", ",", ".", "/", "'", "\\"),
    *("auth", "tokens", "migration", "POL-358", "foo.bar", "café", "x", "1", "é", "\x00", "\u200b"),
    *(" ", " ", " ", "  ", "\t"),
]
FUZZ_QUERIES = 300


def fuzz_queries(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    queries = []
    for _ in range(count):
        pieces = rng.choices(ALPHABET, k=rng.randint(1, 14))
        joiner = rng.choice(["", " ", " "])
        queries.append(joiner.join(pieces))
    return queries


async def test_fuzzed_queries_only_ever_succeed_or_fail_with_invalid_query(
    corpus, search, rpc_failure, bob
):
    unexpected = []
    outcomes = {"ok": 0, "invalid": 0}
    for query in fuzz_queries(seed=6, count=FUZZ_QUERIES):
        try:
            await search(bob, query, page_size=5)
            outcomes["ok"] += 1
        except grpc.aio.AioRpcError as err:
            failure = rpc_failure(err)
            if (failure.code, failure.reason, failure.fields) == (
                INVALID,
                "INVALID_QUERY",
                ["query"],
            ):
                outcomes["invalid"] += 1
            else:
                unexpected.append((query, failure.code, failure.reason, failure.message))
    assert not unexpected, f"{len(unexpected)} unexpected failures, e.g. {unexpected[:5]}"
    # The alphabet must exercise both outcomes, or the fuzz proves little.
    assert outcomes["ok"] > 30 and outcomes["invalid"] > 30, outcomes
