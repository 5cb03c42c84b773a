"""Hypothesis strategies for every request message, built by walking its descriptor.

Each field gets values by its type (every scalar type, enums with unknown numbers, nested
messages, Timestamps out of range, repeated fields with many or duplicate entries), mixed with
values chosen by its name where the name says what it holds (a project slug, an agent name, a
message id, a page token, a search query) so that calls also get past the first checks. A field
type with no strategy raises :class:`NoStrategy`, which fails the tests of that RPC.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from conftest import OPERATOR_TOKEN
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from ._world import World

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)
# Documented limits (characters, bytes or entries) and the gRPC request limit: values are drawn
# just below, at and just above each.
LIMITS = (64, 128, 200, 1000, 1024, 4096, 1024 * 1024)
MAX_RECEIVE_BYTES = 8 * 1024 * 1024
# A Timestamp is valid from 0001-01-01 to 9999-12-31 with 0 <= nanos < 1e9.
TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
# Characters the default text strategy rarely draws: C0/C1 controls, format characters (bidi
# overrides, zero-width), line and paragraph separators, private use, unassigned.
NASTY_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Co", "Cn")
NASTY_LITERALS = (
    "\x00",
    "a\x00b",
    " ",
    "\t\n\r",
    "\u202e\u2066",
    "\ufeff",
    "\U0010ffff",
    "../../etc/passwd",
    "'; DROP TABLE messages; --",
    "%s%n%x",
    "${jndi:ldap://x}",
    "Bearer am_",
)
# FTS5 punctuation, operators in every case and column filters, valid or not.
FTS_ATOMS = (
    "schema",
    "migrate",
    "POL-358",
    "foo.bar",
    "*",
    "a*",
    '"',
    '"schema change"',
    '""',
    "AND",
    "OR",
    "NOT",
    "and",
    "NEAR",
    "NEAR(schema migrate, 2)",
    "NEAR(",
    "subject:",
    "subject:schema",
    "body:(migrate OR orders)",
    "sender:alice",
    "rowid:1",
    "messages_fts:x",
    "{subject body}:x",
    "-schema",
    "+schema",
    "^schema",
    "(",
    ")",
    ":",
    "'",
    "\\",
    "\x00",
)


class NoStrategy(Exception):
    """A field or RPC shape these strategies cannot fuzz yet: extend this module."""


def nasty_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Strings a server must survive: empty, any code point a proto string can carry (never a
    lone surrogate: those exist only as invalid UTF-8 on the wire), controls, edge literals
    and lengths around every documented limit."""
    return st.one_of(
        st.just(""),
        st.text(max_size=max_size),
        st.text(st.characters(categories=NASTY_CATEGORIES), min_size=1, max_size=max_size),
        st.sampled_from(NASTY_LITERALS),
        st.builds(
            lambda limit, delta, char: char * (limit + delta),
            st.sampled_from(LIMITS),
            st.integers(-1, 2),
            st.sampled_from("aé😀\x00"),
        ),
    )


def fts_queries() -> st.SearchStrategy[str]:
    """Search queries: well-formed, malformed, deeply nested and oversized FTS5 syntax."""
    atom = st.one_of(st.sampled_from(FTS_ATOMS), st.text(max_size=8))
    tree = st.recursive(
        atom,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=4).map(" ".join),
            inner.map(lambda q: f"({q})"),
            st.tuples(inner, st.sampled_from([" AND ", " OR ", " NOT ", " "]), inner).map("".join),
            inner.map(lambda q: f"subject:({q})"),
        ),
        max_leaves=12,
    )
    deep = st.integers(1, 5000).map(lambda depth: "(" * depth + "schema" + ")" * depth)
    unbalanced = st.integers(1, 2000).map(lambda depth: "(" * depth + "x")
    many = st.integers(1, 3000).map(lambda n: " OR ".join(["schema"] * n))
    return st.one_of(tree, deep, unbalanced, many, nasty_text())


def page_tokens(world: World) -> st.SearchStrategy[str]:
    """Real tokens of every listing (so, often, of the wrong one), foreign and forged tokens
    and garbage."""
    forged = st.builds(
        lambda version, kind, positions: (
            base64.urlsafe_b64encode(".".join([version, kind, *positions]).encode())
            .rstrip(b"=")
            .decode()
        ),
        st.sampled_from(["1", "0", "2", ""]),
        st.sampled_from(
            ["ia", "id", "ob", "th", "pr", "ag", "sr", "sn", "pa", "pd", "ua", "rv", "zz", ""]
        ),
        st.lists(
            st.one_of(
                st.integers(*INT64).map(str),
                st.integers(0, 10**40).map(str),
                st.sampled_from(["-1", "x", "", "1e9", " 1", "٣"]),
            ),
            max_size=4,
        ),
    )
    return st.one_of(
        st.sampled_from(world.page_tokens or [""]),
        st.sampled_from(world.foreign_page_tokens or [""]),
        forged,
        st.binary(max_size=64).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
        nasty_text(),
    )


def _names(world: World) -> st.SearchStrategy[str]:
    known = [*world.tokens, world.outsider]
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known).map(str.swapcase),
        st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,70}\Z"),
        nasty_text(),
    )


def _string_hints(world: World) -> list[tuple[str, st.SearchStrategy[str]]]:
    """Plausible values by field name (a regex over the field's name)."""
    return [
        # The outsider's project too: an operator's ForceReleaseReservation (of the outsider's
        # reservation, among the `id` hints) or RevokeTokens reaches it; an agent may not.
        (r"project|slug", st.sampled_from([world.project, world.other_project, "no-such"])),
        (r"name|to|cc|bcc|sender|recipient|(to|from)_agent|capability", _names(world)),
        (r"thread_id", st.sampled_from(world.thread_ids)),
        (r"query", fts_queries()),
        (r".*token|cursor", page_tokens(world)),
        (r"human_key", st.sampled_from(["/fuzz/main", "/fuzz/new", "C:\\repo", "~"])),
        (r"paths|patterns|path", reservation_patterns()),
    ]


def reservation_patterns() -> st.SearchStrategy[str]:
    """Paths and globs (valid, overlapping the seeded reservations, or malformed), resources,
    and field-mask paths (UpdateAgent's `paths` shares the name)."""
    return st.one_of(
        st.sampled_from(
            ["src/a.py", "src/**", "docs/", "*.py", "lib/b.py", "tool://db", "./x\\y.md"]
        ),
        st.sampled_from(["", "/", "..", "a/../b", "!a", "[", "a[b", "**/**/*?", "x://"]),
        st.from_regex(r"\A[a-z*?/.]{1,30}\Z"),
        st.sampled_from(
            ["program", "model", "task_description", "status", "capabilities", "name", "a.b"]
        ),
        nasty_text(),
    )


def _int_hints(world: World) -> list[tuple[str, st.SearchStrategy[int]]]:
    return [
        (r"message_ids?", st.sampled_from(world.message_ids)),
        # RotateToken's overlap: its bounds and just past them.
        (r"overlap_seconds", st.sampled_from([-1, 0, 1, 3600, 3601])),
        (r"ids?", st.sampled_from(world.reservation_ids)),
    ]


def _by_name(hints: list[tuple[str, Any]], field: FieldDescriptor) -> Any | None:
    for pattern, strategy in hints:
        if re.fullmatch(pattern, field.name):
            return strategy
    return None


def _integers(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    specials = [v for v in (low, high, -1, 0, 1, 2**31 - 1, 2**31, 2**53 + 1) if low <= v <= high]
    return st.one_of(st.sampled_from(specials), st.integers(low, high), st.integers(-3, 1100))


SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_INT32: _integers(INT32),
    FieldDescriptor.TYPE_SINT32: _integers(INT32),
    FieldDescriptor.TYPE_SFIXED32: _integers(INT32),
    FieldDescriptor.TYPE_INT64: _integers(INT64),
    FieldDescriptor.TYPE_SINT64: _integers(INT64),
    FieldDescriptor.TYPE_SFIXED64: _integers(INT64),
    FieldDescriptor.TYPE_UINT32: _integers(UINT32),
    FieldDescriptor.TYPE_FIXED32: _integers(UINT32),
    FieldDescriptor.TYPE_UINT64: _integers(UINT64),
    FieldDescriptor.TYPE_FIXED64: _integers(UINT64),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_DOUBLE: st.floats(allow_nan=True, allow_infinity=True),
    FieldDescriptor.TYPE_FLOAT: st.floats(width=32, allow_nan=True, allow_infinity=True),
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
}


# Above this many bytes a repeated message's copies are drawn empty instead (see _field).
MAX_COPIED_MESSAGE_BYTES = 4096


def _shortened(value: Any) -> Any:
    if isinstance(value, str):
        return value[:256]
    if isinstance(value, Message) and value.ByteSize() > MAX_COPIED_MESSAGE_BYTES:
        return type(value)()
    return value


class RequestStrategies:
    """Builds (and caches) a strategy per message type for one seeded world."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._strings = _string_hints(world)
        self._ints = _int_hints(world)
        self._messages: dict[str, st.SearchStrategy[Message]] = {}

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        """Messages of ``descriptor``'s type with any subset of fields set.

        Raises:
            NoStrategy: a field of this type (or of a nested one) has no strategy.
        """
        if descriptor.full_name in self._messages:
            return self._messages[descriptor.full_name]
        if depth > 8:
            raise NoStrategy(f"{descriptor.full_name} nests too deeply to fuzz")
        special = self._well_known(descriptor)
        if special is not None:
            return special
        cls = message_factory.GetMessageClass(descriptor)
        fields = {field.name: self._field(field, depth) for field in descriptor.fields}

        def build(values: dict[str, Any]) -> Message:
            message = cls()
            for name, value in values.items():
                target = getattr(message, name)
                if isinstance(value, list):
                    if value and isinstance(value[0], Message):
                        for item in value:
                            target.add().CopyFrom(item)
                    else:
                        target.extend(value)
                elif isinstance(value, Message):
                    target.CopyFrom(value)
                else:
                    setattr(message, name, value)
            return message

        strategy = st.fixed_dictionaries({}, optional=fields).map(build)
        self._messages[descriptor.full_name] = strategy
        return strategy

    def _well_known(self, descriptor: Descriptor) -> st.SearchStrategy[Message] | None:
        cls = message_factory.GetMessageClass(descriptor)
        if descriptor.full_name == "google.protobuf.Timestamp":
            seconds = st.one_of(
                st.sampled_from([0, -1, *TIMESTAMP_SECONDS]),
                st.integers(TIMESTAMP_SECONDS[0] - 2, TIMESTAMP_SECONDS[1] + 2),
                st.integers(*INT64),
                st.integers(1_700_000_000, 1_900_000_000),
            )
            nanos = st.one_of(st.just(0), st.integers(*INT32), st.integers(0, 999_999_999))
            return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, nanos)
        return None

    def _field(self, field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            raise NoStrategy(f"map field {field.full_name}")
        single = self._single(field, depth)
        if not field.is_repeated:
            return single
        many = st.integers(-2, 3).map(lambda delta: 1000 + delta)
        # A thousand copies of one value are drawn from short values only: a thousand copies
        # of a 1 MiB string make a 1 GiB request that exhausts the test's memory, not the
        # server's limits (which the big single values already probe).
        # The same for a message (a SendMessages item): a thousand copies of one that carries
        # a big body or a thousand names would be gigabytes; its big values are probed alone.
        short = single.map(_shortened)
        return st.one_of(
            st.lists(single, max_size=6),
            st.lists(short, min_size=1, max_size=3).map(lambda items: items * 3),
            many.flatmap(lambda n: short.map(lambda value: [value] * n)),
            many.map(lambda n: self._distinct(field, n)),
        )

    def _distinct(self, field: FieldDescriptor, count: int) -> list[Any]:
        """``count`` distinct cheap values (to pass or break limits on entries)."""
        if field.type == FieldDescriptor.TYPE_STRING:
            return [f"n{index}" for index in range(count)]
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            return []
        return list(range(1, count + 1))

    def _single(self, field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        kind = field.type
        if kind == FieldDescriptor.TYPE_STRING:
            hint = _by_name(self._strings, field)
            return nasty_text() if hint is None else st.one_of(hint, hint, nasty_text())
        if kind == FieldDescriptor.TYPE_ENUM:
            known = [value.number for value in field.enum_type.values]
            return st.one_of(st.sampled_from(known), st.integers(*INT32), st.just(max(known) + 1))
        if kind == FieldDescriptor.TYPE_MESSAGE:
            return self.message(field.message_type, depth + 1)
        if kind in SCALARS:
            hint = _by_name(self._ints, field)
            return SCALARS[kind] if hint is None else st.one_of(hint, SCALARS[kind])
        raise NoStrategy(f"field {field.full_name} of type {kind}")


class Auth:
    """Call metadata, shown in failure reports by its ``kind`` only: a report names the kind
    of credential, never a token."""

    def __init__(self, kind: str, value: str | None) -> None:
        self.kind = kind
        self.metadata: tuple[tuple[str, str], ...] = (
            () if value is None else (("authorization", value),)
        )

    def __repr__(self) -> str:
        return f"Auth({self.kind})"


def metadata(world: World) -> st.SearchStrategy[Auth]:
    """Call metadata: mostly a valid token of the main project, sometimes an outsider's or the
    operator's, sometimes missing, malformed or unknown (printable ASCII: gRPC refuses anything
    else)."""
    named = st.sampled_from(sorted(world.tokens))
    printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)

    def of(kind: str, make: Callable[[str], str]) -> st.SearchStrategy[Auth]:
        return named.map(lambda name: Auth(f"{kind} {name}", make(world.tokens[name])))

    bearer = of("token of", lambda token: f"Bearer {token}")
    garbage = st.one_of(
        st.just(Auth("none", None)),
        printable.map(lambda value: Auth(f"header {value!r}", value)),
        printable.map(lambda value: Auth(f"bearer {value!r}", f"Bearer {value}")),
        of("lower-case bearer of", lambda token: f"bearer {token}"),
        of("truncated token of", lambda token: f"Bearer {token[:-1]}"),
        of("basic scheme with token of", lambda token: f"Basic {token}"),
    )
    outsider = st.just(Auth("token of outsider", f"Bearer {world.outsider_token}"))
    operator = st.just(Auth("operator token", f"Bearer {OPERATOR_TOKEN}"))
    return st.one_of(bearer, bearer, bearer, bearer, bearer, outsider, operator, garbage)
