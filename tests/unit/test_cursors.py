"""Page tokens: round trips, and rejection of foreign or forged tokens."""

from __future__ import annotations

import base64

import pytest
from agentmail_server.domain import cursors
from agentmail_server.errors import InvalidArgument


@pytest.mark.parametrize("position", [0, 1, 2**31, 2**62])
def test_token_round_trips(position: int) -> None:
    token = cursors.encode(cursors.INBOX_ASC, position)
    assert cursors.decode(token, cursors.INBOX_ASC) == position


def test_empty_token_means_start() -> None:
    assert cursors.decode("", cursors.OUTBOX) is None


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "%%%",
        base64.urlsafe_b64encode(b"1.ia.-5").decode(),
        base64.urlsafe_b64encode(b"2.ia.5").decode(),
        base64.urlsafe_b64encode(b"1.ia.five").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_garbage_is_rejected(token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        cursors.decode(token, cursors.INBOX_ASC)
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    assert caught.value.violations[0].field == "page_token"


def test_token_of_another_listing_is_rejected() -> None:
    token = cursors.encode(cursors.INBOX_DESC, 7)
    with pytest.raises(InvalidArgument):
        cursors.decode(token, cursors.INBOX_ASC)
