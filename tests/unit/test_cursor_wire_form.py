"""The sealed token's exact wire form is frozen: a token saved by a client before an upgrade
must still open after it, so a faster encoder has to produce the same characters.

The expected tokens were made with a fixed key by the encoder as it was before its fast paths
(a plain LEB128 loop and ``urlsafe_b64encode`` per token); the positions sit on each side of
every varint length the fast path writes out directly, and beyond it.
"""

from __future__ import annotations

import pytest
from agentmail_server.domain import cursors
from agentmail_server.domain.cursors import CursorCodec

KEY = bytes(range(64))
SCOPE = (7,)
FROZEN = {
    0: "Atd6EIXeP97Z8DaRUXek42J0",
    1: "AkclBDxa-lGzZNSIeciBDmhG",
    127: "AkGmuzVyPI_RCggQiLNdC8qy",
    128: "ApBYuTdAV4-EJiItO6NGCuVF8w",
    16383: "Av_b3DvkCUfHkpLoaFJs88baFg",
    16384: "ArX0xp_a5CcbnWGr_3twvc3OAb4",
    2**21 - 1: "AnQzIQaOCzE4sWItR2fOCk_ztRA",
    2**21: "AgLxRmWLrQmk5IEoM-oq87noQVrK",
    2**28: "AvicLM52V2y8D0a0CIk97zeA1gflsg",
    2**63 - 1: "Av2Gf3XLn20KJr3PWaH-J2XIIjlkxDGCJv0",
}


@pytest.mark.parametrize(("position", "token"), sorted(FROZEN.items()))
def test_a_token_keeps_its_wire_form(position: int, token: str) -> None:
    codec = CursorCodec(KEY)
    assert codec.encode(cursors.INBOX_ASC, SCOPE, position) == token
    assert codec.decode(token, cursors.INBOX_ASC, SCOPE) == position


def test_a_page_of_cursors_keeps_the_wire_form_of_each() -> None:
    positions = sorted(FROZEN)
    sealed = CursorCodec(KEY).encode_each(cursors.INBOX_ASC, SCOPE, positions)
    assert sealed == [FROZEN[position] for position in positions]


def test_a_token_of_several_positions_keeps_its_wire_form() -> None:
    codec = CursorCodec(KEY)
    token = codec.encode(cursors.THREAD, (7, "t"), 5, 2**21)
    assert token == "AqDvormngWws4WnfZoxTOOgobsGd-g"
    assert codec.decode_many(token, cursors.THREAD, (7, "t"), 2) == (5, 2**21)


def test_an_empty_page_has_no_cursors() -> None:
    assert CursorCodec(KEY).encode_each(cursors.INBOX_ASC, SCOPE, []) == []


@pytest.mark.parametrize("position", [-1, -(2**21), 2**63])
def test_a_position_out_of_range_is_refused(position: int) -> None:
    with pytest.raises(ValueError, match="position"):
        CursorCodec(KEY).encode_each(cursors.INBOX_ASC, SCOPE, [position])
