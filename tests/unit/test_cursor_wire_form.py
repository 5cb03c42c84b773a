"""The tokens' exact wire forms are frozen: a token saved by a client before an upgrade
must still open after it, and a faster encoder has to produce the same characters.

``SEALED`` holds single-position tokens of the AES-SIV form (version 2), made with a fixed key
by the encoder as it was before its fast paths (a plain LEB128 loop and ``urlsafe_b64encode``
per token); the positions sit on each side of every varint length that fast path wrote out
directly, and beyond it. Version 3 (encode-then-encipher) now issues single-position tokens,
but those saved in version 2 must still open. ``ENCIPHERED`` freezes version 3, and a test
rebuilds it from its specification with the primitives alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from agentmail_server.domain import cursors
from agentmail_server.domain.cursors import CursorCodec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY = bytes(range(64))
SCOPE = (7,)
SEALED = {
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
ENCIPHERED = {
    0: "AyUvhGRx_T2c6pfkOrmRYLE",
    1: "AyAz8a66FhGw_uJme3fUCAc",
    127: "A2-gBgLuoIjmH73UbMV0lPM",
    128: "A7omb3fw5KugjVyo8IQJrLA",
    16383: "A0FjsjfQdT6B_sILaTWH-os",
    16384: "A9ce3QWYkSyI7nP8WvfpxNk",
    2**21 - 1: "Ay7mQBBFLmjDWZZRUqq1sFg",
    2**21: "A5raHDwhMsOBYGH2eTE9BeE",
    2**28: "A3yXp62jfo_XdBvkiJxmLNw",
    2**63 - 1: "A3QKM9bBJe5bogwnclUKqCA",
}


@pytest.mark.parametrize(("position", "token"), sorted(SEALED.items()))
def test_a_token_saved_in_the_sealed_form_still_opens(position: int, token: str) -> None:
    assert CursorCodec(KEY).decode(token, cursors.INBOX_ASC, SCOPE) == position


@pytest.mark.parametrize(("position", "token"), sorted(ENCIPHERED.items()))
def test_a_token_keeps_its_wire_form(position: int, token: str) -> None:
    codec = CursorCodec(KEY)
    assert codec.encode(cursors.INBOX_ASC, SCOPE, position) == token
    assert codec.decode(token, cursors.INBOX_ASC, SCOPE) == position


def test_a_page_of_cursors_keeps_the_wire_form_of_each() -> None:
    positions = sorted(ENCIPHERED)
    enciphered = CursorCodec(KEY).encode_each(cursors.INBOX_ASC, SCOPE, positions)
    assert enciphered == [ENCIPHERED[position] for position in positions]


def _derived(label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(KEY)


@pytest.mark.parametrize("position", sorted(ENCIPHERED))
def test_the_enciphered_form_is_the_documented_construction(position: int) -> None:
    # Rebuilt from the module docstring with the primitives alone: version 3, then AES-256
    # (ECB: one block) of check || position, where check is 8 bytes of HMAC-SHA256 over the
    # version, the kind's length and the kind, and the scope as JSON.
    check_key = _derived(b"agentmail cursor v3 hmac-sha256 check")
    tagged = b"\x03" + bytes([len(cursors.INBOX_ASC)]) + cursors.INBOX_ASC.encode() + b"[7]"
    check = hmac.digest(check_key, tagged, hashlib.sha256)[:8]
    aes = Cipher(algorithms.AES(_derived(b"agentmail cursor v3 aes-256 prp")), modes.ECB())
    encryptor = aes.encryptor()
    block = encryptor.update(check + position.to_bytes(8, "big")) + encryptor.finalize()
    expected = base64.urlsafe_b64encode(b"\x03" + block).rstrip(b"=").decode()
    assert CursorCodec(KEY).encode(cursors.INBOX_ASC, SCOPE, position) == expected


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
