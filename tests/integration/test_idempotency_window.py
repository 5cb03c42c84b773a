"""The idempotency window the proto promises (24 hours), crossed on an injected clock.

The server reads time only through its ``Clock``; these tests start it on a ``ManualClock`` and
move time forward on purpose instead of waiting.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agentmail.v1 import mail_service_pb2 as pb
from agentmail_server.domain.clock import ManualClock

DAY_SECONDS = 24 * 3600
START_MICROS = 1_750_000_000_000_000


@pytest.fixture
def clock() -> ManualClock:
    """The server's clock, standing still at a known time until a test advances it."""
    return ManualClock(START_MICROS)


@pytest.fixture
async def server(
    tmp_path: pathlib.Path, clock: ManualClock, start_server: Any
) -> AsyncIterator[Any]:
    """A running server (the shared fixtures' ``server``) reading ``clock``."""
    async with start_server(tmp_path / "data", clock=clock) as srv:
        yield srv


def request(key: str, subject: str = "deploy") -> pb.SendMessageRequest:
    return pb.SendMessageRequest(to=["Bob"], subject=subject, body="b", idempotency_key=key)


async def test_messages_are_stamped_with_the_injected_clock(mail, alice, clock):
    clock.advance(seconds=90)

    sent = await mail.SendMessage(request("k"), metadata=alice.md)

    assert sent.message.create_time.ToMicroseconds() == START_MICROS + 90_000_000


async def test_a_repeat_just_inside_the_window_returns_the_original(
    mail, alice, bob, clock, read_inbox
):
    first = await mail.SendMessage(request("k-1"), metadata=alice.md)
    clock.advance(seconds=DAY_SECONDS)

    # The same request (a key reused for other content fails instead: test_idempotency).
    again = await mail.SendMessage(request("k-1"), metadata=alice.md)

    assert again.deduplicated is True
    assert again.message == first.message
    assert [i.message.id for i in await read_inbox(bob)] == [first.message.id]


async def test_a_repeat_after_the_window_sends_a_new_message(mail, alice, bob, clock, read_inbox):
    first = await mail.SendMessage(request("k-1"), metadata=alice.md)
    clock.advance(seconds=DAY_SECONDS, micros=1)

    later = await mail.SendMessage(request("k-1", subject="again"), metadata=alice.md)

    assert later.deduplicated is False
    assert later.message.id > first.message.id
    assert later.message.subject == "again"
    assert later.message.create_time.ToMicroseconds() == clock.now_micros()
    assert [i.message.id for i in await read_inbox(bob)] == [first.message.id, later.message.id]


async def test_the_window_restarts_from_the_newer_message(mail, alice, clock):
    await mail.SendMessage(request("k-1"), metadata=alice.md)
    clock.advance(seconds=DAY_SECONDS + 1)
    renewed = await mail.SendMessage(request("k-1"), metadata=alice.md)
    clock.advance(seconds=DAY_SECONDS - 1)

    again = await mail.SendMessage(request("k-1"), metadata=alice.md)

    assert again.deduplicated is True
    assert again.message == renewed.message


def test_a_manual_clock_never_moves_backwards():
    clock = ManualClock(START_MICROS)

    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(seconds=-1)

    assert clock.now_micros() == START_MICROS
    assert clock.advance(micros=5) == START_MICROS + 5
