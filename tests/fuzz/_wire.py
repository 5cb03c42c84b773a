"""Request bytes no protobuf library would produce: random bytes, broken encodings of valid
requests, and strings holding invalid UTF-8.

Python's protobuf refuses to put a lone surrogate (or any invalid UTF-8) into a string field, but
the wire carries bytes: a peer in another language can send them. These strategies write such
fields by hand, so the server meets what its parser really gets.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
# Byte sequences that are not UTF-8: lone surrogates as CESU-8 would write them, an overlong
# NUL, code points past U+10FFFF, stray continuation bytes, a cut multi-byte sequence.
INVALID_UTF8 = (
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"a\xed\xb2\x80b",
    b"\xc0\x80",
    b"\xf4\x90\x80\x80",
    b"\xff",
    b"\x80",
    b"\xe2\x82",
    b"valid prefix \xfe",
)
UNKNOWN_FIELD = 4096  # a field number no agentmail.v1 request uses


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative integer (negative ones as 64-bit two's complement)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    """A field key."""
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    """A LEN field: key, length, payload."""
    return tag(number, LEN) + varint(len(payload)) + payload


def string_paths(descriptor: Descriptor, depth: int = 0) -> Iterator[tuple[int, ...]]:
    """Field-number paths from ``descriptor`` to every string field, through nested messages."""
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_STRING:
            yield (field.number,)
        elif field.type == FieldDescriptor.TYPE_MESSAGE and depth < 4:
            for rest in string_paths(field.message_type, depth + 1):
                yield (field.number, *rest)


def nested_string(path: tuple[int, ...], payload: bytes) -> bytes:
    """Bytes setting the string at ``path`` to ``payload`` (appended to a message, a later
    field wins for singular fields and adds an entry to repeated ones)."""
    encoded = length_delimited(path[-1], payload)
    for number in reversed(path[:-1]):
        encoded = length_delimited(number, encoded)
    return encoded


def _mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Broken encodings of one valid request."""
    positions = st.integers(0, max(len(valid) - 1, 0))
    return st.one_of(
        positions.map(lambda cut: valid[:cut] if valid else b"\x0a"),
        st.tuples(positions, st.integers(0, 255)).map(
            lambda change: (
                valid[: change[0]] + bytes([change[1]]) + valid[change[0] + 1 :]
                if valid
                else bytes([change[1]])
            )
        ),
        st.binary(min_size=1, max_size=16).map(lambda tail: valid + tail),
        # A length running past the end, an eleven-byte varint, a group never closed.
        st.just(valid + tag(1, LEN) + varint(2**31)),
        st.just(valid + tag(1, VARINT) + b"\xff" * 10 + b"\x01"),
        st.just(valid + tag(UNKNOWN_FIELD, SGROUP)),
        # Unknown fields are legal and must be skipped; wire types a field does not have are not.
        st.just(valid + length_delimited(UNKNOWN_FIELD, b"ignored")),
        st.sampled_from([VARINT, I64, I32, SGROUP]).map(
            lambda wire: valid + tag(1, wire) + b"\x01" * 8 + tag(1, EGROUP)
        ),
        # Groups of an unknown field nested far past any parser's recursion limit.
        st.integers(50, 20_000).map(
            lambda depth: (
                valid + tag(UNKNOWN_FIELD, SGROUP) * depth + tag(UNKNOWN_FIELD, EGROUP) * depth
            )
        ),
    )


def raw_requests(
    descriptor: Descriptor, valid: st.SearchStrategy[Message]
) -> st.SearchStrategy[bytes]:
    """Request bytes for a method taking ``descriptor``: random, broken or with invalid UTF-8
    in one of its string fields (``valid`` draws well-formed requests to start from)."""
    serialized = valid.map(lambda message: message.SerializeToString())
    choices = [st.binary(max_size=256), serialized.flatmap(_mutations)]
    paths = sorted(set(string_paths(descriptor)))
    if paths:
        choices.append(
            st.builds(
                lambda base, path, bad: base + nested_string(path, bad),
                serialized,
                st.sampled_from(paths),
                st.sampled_from(INVALID_UTF8),
            )
        )
    return st.one_of(choices)
