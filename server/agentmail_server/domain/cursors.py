"""Opaque page tokens and inbox cursors.

A token names a position in one ordered listing (``kind``) as the id to continue after. Tokens
are opaque to clients so that the storage behind them can change; a token of one listing used
with another is rejected rather than silently misread.
"""

from __future__ import annotations

import base64
import binascii

from agentmail_server.errors import invalid

_VERSION = "1"

INBOX_ASC = "ia"
INBOX_DESC = "id"
OUTBOX = "ob"
THREAD = "th"
PROJECTS = "pr"
AGENTS = "ag"
SEARCH_RELEVANCE = "sr"
SEARCH_NEWEST = "sn"


def encode(kind: str, *positions: int) -> str:
    """A token for continuing listing ``kind`` after ``positions`` (usually one id)."""
    raw = ".".join([_VERSION, kind, *map(str, positions)]).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(token: str, kind: str, field: str = "page_token") -> int | None:
    """The position in ``token`` for listing ``kind``; None for an empty token.

    Raises:
        InvalidArgument: the token is malformed or belongs to another listing.
    """
    values = decode_many(token, kind, 1, field)
    return None if values is None else values[0]


def decode_many(
    token: str, kind: str, count: int, field: str = "page_token"
) -> tuple[int, ...] | None:
    """The ``count`` positions in ``token`` for listing ``kind``; None for an empty token.

    Raises:
        InvalidArgument: the token is malformed or belongs to another listing.
    """
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        version, token_kind, *positions = (
            base64.urlsafe_b64decode(padded.encode()).decode().split(".")
        )
        values = tuple(int(position) for position in positions)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid(field, "is not a token this server issued", "INVALID_PAGE_TOKEN") from None
    if version != _VERSION or token_kind != kind or len(values) != count or min(values) < 0:
        raise invalid(field, "belongs to a different listing or order", "INVALID_PAGE_TOKEN")
    return values
