"""``wait_for_mail``: a bounded wait for inbox mail over one short-lived subscription.

The wait is a :class:`~agentmail_client.Subscription` read to a stopping point rather than a
stream of its own, so it reconnects and resumes exactly as a subscription does (a server
restart mid-wait loses nothing), and the server applies the same filters and bcc privacy.
"""

# ruff: noqa: ASYNC109 -- `timeout` is how long to wait for mail, part of what the call
# returns (timed_out and a cursor to go on from); an asyncio.timeout around the call would
# raise instead and lose that cursor.

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import grpc

from ._errors import DeadlineExceeded
from ._models import InboxItem
from ._subscribe import Subscription


@dataclasses.dataclass(frozen=True)
class WaitForMailResult:
    """What :meth:`~agentmail_client.AgentmailClient.wait_for_mail` returns.

    Iterating the result iterates its items.

    Attributes:
        items: The mail after the starting cursor, oldest first; empty when timed out.
        cursor: Where to go on from: pass it as ``cursor`` to the next ``wait_for_mail``
            (or to ``subscribe``, or as ``page_token`` to an OLDEST_FIRST ``list_inbox``) to
            get what follows ``items``, with nothing skipped or repeated. It is the last item's
            cursor, never a position beyond what was returned; with no items it is the
            starting cursor, or without one the inbox tail at which the wait began.
        timed_out: True when the timeout passed with no mail.
    """

    items: tuple[InboxItem, ...]
    cursor: str
    timed_out: bool

    def __iter__(self) -> Iterator[InboxItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


async def wait_for_mail(
    subscription: Subscription[InboxItem],
    *,
    cursor: str | None,
    timeout: float | None,
    max_messages: int,
    catch_up_timeout: float | None,
) -> WaitForMailResult:
    """Reads ``subscription`` (not yet started) until mail or ``timeout``, then closes it.

    Args:
        subscription: A subscription starting at ``cursor``, with the caller's filters.
        cursor: The starting cursor the subscription was made with, or ``None``.
        timeout: Seconds from now to wait for mail; ``None`` waits until some arrives.
        max_messages: Most items to return.
        catch_up_timeout: Seconds from now by which the stream must have caught up (sent
            everything after the cursor) at least once, if ``timeout`` is shorter; ``None``
            leaves it to the subscription's reconnection policy.

    Raises:
        AgentmailError: The subscription broke (a non-retryable error or reconnection gave
            up), or it never caught up in time: the error that ended its latest stream.
        RuntimeError: The client was closed during the wait.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    mail_deadline = None if timeout is None else start + timeout
    # Even timeout=0 must learn what is already after the cursor, so the first catch-up gets
    # at least the time of a read; returning "nothing" without asking would be a lie.
    budget = None if catch_up_timeout is None else max(timeout or 0.0, catch_up_timeout)
    first_deadline = None if budget is None else start + budget
    items: list[InboxItem] = []
    caught_up = False
    # Where the stream stood when it first caught up: without a starting cursor, the tail.
    began = cursor
    async with subscription:
        while len(items) < max_messages:
            item = await subscription._next_nowait()
            if subscription.closed:
                raise RuntimeError("the AgentmailClient was closed while waiting for mail")
            if item is not None:
                items.append(item)
                continue
            # The reader sets caught_up only after queueing the whole backlog: once it is set
            # and nothing is buffered, everything committed so far has been handed out.
            if subscription.caught_up.is_set():
                if not caught_up:
                    caught_up, began = True, began or subscription.cursor
                if items:
                    break
            deadline = mail_deadline if caught_up else first_deadline
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                if caught_up or items:
                    break
                raise subscription._last_error or DeadlineExceeded(
                    f"the inbox stream did not catch up within {budget} s",
                    code=grpc.StatusCode.DEADLINE_EXCEEDED,
                )
            try:
                async with asyncio.timeout(remaining):
                    await subscription._until_received()
            except TimeoutError:
                # The next round takes whatever came in at the last moment, then stops.
                continue
    if items:
        return WaitForMailResult(tuple(items), items[-1].cursor, timed_out=False)
    # Not a later heartbeat's tail, which may have moved past mail the filters skipped: the
    # cursor is then safe to reuse with other filters (or none) without skipping that mail.
    assert began is not None, "caught up, so the first heartbeat has set the cursor"
    return WaitForMailResult((), began, timed_out=True)
