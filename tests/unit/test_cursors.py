"""Sealed page tokens: round trips, binding to caller and list, opacity, and rejection of
foreign, forged, garbled, truncated and extended tokens."""

from __future__ import annotations

import base64
import binascii
import pathlib
import stat

import pytest
from agentmail_server import cursor_key
from agentmail_server.domain import cursors
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.errors import InvalidArgument

BOB, CAROL = (7,), (8,)


@pytest.fixture
def codec() -> CursorCodec:
    return CursorCodec(cursors.new_key())


@pytest.mark.parametrize("position", [0, 1, 127, 128, 2**31, 2**62, 2**63 - 1])
def test_token_round_trips(codec: CursorCodec, position: int) -> None:
    token = codec.encode(cursors.INBOX_ASC, BOB, position)
    assert codec.decode(token, cursors.INBOX_ASC, BOB) == position


def test_two_positions_round_trip(codec: CursorCodec) -> None:
    scope = (7, "deploy", None, True)
    token = codec.encode(cursors.SEARCH_NEWEST, scope, 900, 12)
    assert codec.decode_many(token, cursors.SEARCH_NEWEST, scope, 2) == (900, 12)


def test_empty_token_means_start(codec: CursorCodec) -> None:
    assert codec.decode("", cursors.OUTBOX, BOB) is None


def test_same_position_same_caller_gives_the_same_token(codec: CursorCodec) -> None:
    # Deterministic, so a heartbeat's tail cursor equals the last item's cursor.
    assert codec.encode(cursors.INBOX_ASC, BOB, 42) == codec.encode(cursors.INBOX_ASC, BOB, 42)


def test_tokens_are_short(codec: CursorCodec) -> None:
    assert len(codec.encode(cursors.INBOX_ASC, BOB, 2**31)) <= 32
    assert len(codec.encode(cursors.SEARCH_NEWEST, BOB, 2**31, 2**31)) <= 40


# Positions of six digits and more: such an id cannot turn up in random bytes by chance.
@pytest.mark.parametrize("position", [123_456, 2**31 + 5, 2**40 + 3])
def test_token_reveals_no_position(codec: CursorCodec, position: int) -> None:
    bob = codec.encode(cursors.INBOX_ASC, BOB, position)
    carol = codec.encode(cursors.INBOX_ASC, CAROL, position)
    assert bob != carol, "the same message gives different agents unrelated cursors"
    for token in (bob, carol):
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert str(position).encode() not in raw
        for width in (4, 8):
            if position < 256**width:
                assert position.to_bytes(width, "big") not in raw
                assert position.to_bytes(width, "little") not in raw
    # Neighbouring positions share nothing but the version byte (no visible counter); a
    # single position takes the enciphered form (version 3).
    following = codec.encode(cursors.INBOX_ASC, BOB, position + 1)
    raw_bob, raw_next = (
        base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)) for t in (bob, following)
    )
    assert raw_bob[0] == raw_next[0] == 3
    assert sum(a == b for a, b in zip(raw_bob[1:], raw_next[1:], strict=False)) < 8


def test_another_key_cannot_open_a_token(codec: CursorCodec) -> None:
    token = codec.encode(cursors.INBOX_ASC, BOB, 5)
    with pytest.raises(InvalidArgument) as caught:
        CursorCodec(cursors.new_key()).decode(token, cursors.INBOX_ASC, BOB)
    assert caught.value.reason == "INVALID_PAGE_TOKEN"


def test_token_of_another_caller_is_rejected(codec: CursorCodec) -> None:
    token = codec.encode(cursors.INBOX_ASC, CAROL, 5)
    with pytest.raises(InvalidArgument) as caught:
        codec.decode(token, cursors.INBOX_ASC, BOB, field="cursor")
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    assert caught.value.violations[0].field == "cursor"


@pytest.mark.parametrize(
    ("kind", "scope"),
    [(cursors.INBOX_DESC, BOB), (cursors.OUTBOX, BOB), (cursors.THREAD, (7, "t1"))],
)
def test_token_of_another_listing_is_rejected(
    codec: CursorCodec, kind: str, scope: tuple[int | str, ...]
) -> None:
    token = codec.encode(kind, scope, 7)
    with pytest.raises(InvalidArgument):
        codec.decode(token, cursors.INBOX_ASC, BOB)


def test_thread_token_is_bound_to_its_thread(codec: CursorCodec) -> None:
    token = codec.encode(cursors.THREAD, (7, "t1"), 3)
    with pytest.raises(InvalidArgument):
        codec.decode(token, cursors.THREAD, (7, "t2"))


def _mutations(token: str) -> list[str]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    flipped = [raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1 :] for i in range(len(raw))]
    return [
        token[:-1],
        token[:-4],
        token + "A",
        token + "AAAA",
        token[1:],
        "",  # handled apart: an empty token is the start
        *(base64.urlsafe_b64encode(b).rstrip(b"=").decode() for b in flipped),
        base64.urlsafe_b64encode(raw + b"\x00").decode(),
        base64.urlsafe_b64encode(raw[:-1]).decode(),
    ]


def test_any_change_to_a_token_is_rejected(codec: CursorCodec) -> None:
    token = codec.encode(cursors.INBOX_ASC, BOB, 1234)
    for changed in _mutations(token):
        if not changed:
            continue
        with pytest.raises(InvalidArgument) as caught:
            codec.decode(changed, cursors.INBOX_ASC, BOB)
        assert caught.value.reason == "INVALID_PAGE_TOKEN", changed


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "%%%",
        "=",
        "A" * 10_000,
        base64.urlsafe_b64encode(b"1.ia.5").decode(),  # the old, unsealed form
        base64.urlsafe_b64encode(b"\x02" + b"\x00" * 17).decode(),
        base64.urlsafe_b64encode(b"\x03" + b"\x00" * 16).decode(),  # enciphered form
        base64.urlsafe_b64encode(b"\x03" + b"\x00" * 17).decode(),  # one byte too many
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_garbage_is_rejected(codec: CursorCodec, token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        codec.decode(token, cursors.INBOX_ASC, BOB)
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    assert caught.value.violations[0].field == "page_token"


def test_wrong_number_of_positions_is_rejected(codec: CursorCodec) -> None:
    token = codec.encode(cursors.SEARCH_NEWEST, BOB, 1)
    with pytest.raises(InvalidArgument):
        codec.decode_many(token, cursors.SEARCH_NEWEST, BOB, 2)


def test_negative_positions_cannot_be_encoded(codec: CursorCodec) -> None:
    with pytest.raises(ValueError):
        codec.encode(cursors.INBOX_ASC, BOB, -1)


def test_key_must_have_the_right_size() -> None:
    with pytest.raises(ValueError):
        CursorCodec(b"short")


# The key file ------------------------------------------------------------------------------


def test_key_file_is_created_private_and_reused(tmp_path: pathlib.Path) -> None:
    database = tmp_path / "agentmail.sqlite3"
    key = cursor_key.load_or_create(tmp_path, database)
    path = tmp_path / cursor_key.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cursor_key.load_or_create(tmp_path, database) == key
    assert len(key) == cursors.KEY_BYTES
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    "content", [b"", b"not hex at all\n", b"ab" * 63 + b"\n", b"ab" * 65, b"\xff\xfe"]
)
def test_corrupt_key_file_stops_start_up(tmp_path: pathlib.Path, content: bytes) -> None:
    path = tmp_path / cursor_key.KEY_FILE
    path.write_bytes(content)
    with pytest.raises(RuntimeError, match=r"cursor key .* is corrupt|could not read"):
        cursor_key.load_or_create(tmp_path, tmp_path / "db")
    assert path.read_bytes() == content, "a corrupt key is never overwritten"


def test_key_file_with_a_different_key_is_read_as_is(tmp_path: pathlib.Path) -> None:
    key = cursors.new_key()
    (tmp_path / cursor_key.KEY_FILE).write_text(binascii.hexlify(key).decode() + "\n")
    assert cursor_key.load_or_create(tmp_path, tmp_path / "db") == key


def test_missing_key_with_existing_database_is_replaced_with_a_warning(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "agentmail.sqlite3"
    database.write_bytes(b"")
    cursor_key.load_or_create(tmp_path, database)
    assert "no longer accepted" in caplog.text
