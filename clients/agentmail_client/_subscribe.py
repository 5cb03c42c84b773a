"""Resumable inbox subscriptions: SubscribeInbox with reconnection, resumption and cursors.

A background task, the reader, owns the gRPC stream. It reconnects after a failure, resuming
after the newest cursor it has *received*, and hands items and cursor progress to the consumer
through a small bounded buffer. The consumer (``async for``) applies them in order, which is
what lets :attr:`Subscription.cursor` mean *processed* rather than *received*.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import inspect
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Generic, Self, TypeVar, cast

import grpc
import grpc.aio
from agentmail.v1 import mail_service_pb2

from ._config import ReconnectPolicy
from ._errors import (
    AgentmailError,
    DeadlineExceeded,
    ResourceExhausted,
    ServerError,
    Unavailable,
    error_from_rpc,
)
from ._events import AgentEvent
from ._models import InboxItem, _view
from ._transport import Connection

_log = logging.getLogger("agentmail_client")

BUFFER_SIZE: Final = 16
"""Events the reader may receive ahead of the consumer. When full, the reader stops reading
and gRPC flow control holds the rest back (the server then buffers, or catches the
subscriber up from storage later: nothing is lost)."""

CursorCallback = Callable[[str], Awaitable[None] | None]
"""Called with each newly processed cursor; may be a plain function or a coroutine function."""


class _Progress:
    """A heartbeat's tail cursor, queued behind the items it covers."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: str) -> None:
        self.cursor = cursor


class _Closed:
    """The end of a subscription that was closed rather than broken."""


_CLOSED: Final = _Closed()

E = TypeVar("E", InboxItem, InboxItem | AgentEvent)
"""What a subscription yields: inbox items, or (with ``include_events``) items and events."""


def is_reconnectable(error: AgentmailError) -> bool:
    """Whether a subscription that failed with ``error`` should reconnect and resume.

    Args:
        error: What ended the stream.
    """
    if isinstance(error, Unavailable | DeadlineExceeded):
        return True
    if isinstance(error, ResourceExhausted):
        # A message over the receive limit is RESOURCE_EXHAUSTED too and would recur.
        return error.reason == "TOO_MANY_SUBSCRIPTIONS"
    # INTERNAL or CANCELLED without an ErrorInfo comes from the transport (a reset connection,
    # a broken HTTP/2 stream, a server that stops as the call arrives), not from the server's
    # judgement of the request; our own cancellation ends the reader, never raises this.
    return (
        isinstance(error, ServerError)
        and error.code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.CANCELLED)
        and error.reason is None
    )


class Subscription(Generic[E]):
    """A live, resumable view of the caller's inbox; made by ``AgentmailClient.subscribe``.

    Iterate it with ``async for`` to receive :class:`~agentmail_client.InboxItem` values:
    first the backlog after the starting cursor, then new mail as it is committed. Opened with
    ``include_events=True`` it yields :class:`~agentmail_client.AgentEvent` values too
    (acknowledgements of the caller's mail, contact requests, reservation changes), in commit
    order with the mail; an event counts as processed, and moves the cursor, like an item. Use it as
    an async context manager (or call :meth:`aclose`) so that the stream is cancelled::

        async with client.subscribe(cursor=saved, on_cursor=save) as subscription:
            async for item in subscription:
                await handle(item)

    The stream opens when the ``async with`` block is entered or at the first iteration. A
    server that shuts down sends each stream a final frame with the cursor to resume from and
    a delay; the subscription waits that long and resumes there. If the stream
    breaks (``UNAVAILABLE``, for example a server restart; a deadline or ``idle_timeout``;
    ``TOO_MANY_SUBSCRIPTIONS``; a reset connection or a call cancelled by a stopping server)
    the subscription reconnects with backoff (see :class:`~agentmail_client.ReconnectPolicy`)
    and resumes after the last item it received, so that iteration goes on with no gap and no
    duplicate. Other errors
    (``Unauthenticated``, ``InvalidArgument``, ``PermissionDenied`` ...) are raised from the
    iteration at once.

    **Closed versus broken.** Closing the subscription (leaving the ``async with`` block,
    :meth:`aclose` from any task, or closing the client) ends iteration cleanly with no
    exception. Giving up after ``ReconnectPolicy.max_attempts`` failed reconnections, or a
    non-retryable error, raises that typed error from the iteration (and again on every later
    attempt to iterate).

    **Cursor and delivery guarantee.** An item counts as *processed* when the consumer asks for
    the next one (or leaves the ``async with`` block without an exception): only then is
    :attr:`cursor` advanced to the item's cursor and ``on_cursor`` called with it, before the
    next item is fetched. Persisting that cursor and passing it to a later ``subscribe`` resumes
    right after the last processed item. Delivery is therefore *at least once*: after a crash
    between processing an item and persisting its cursor, the item is delivered again, so make
    processing idempotent (for example by remembering message ids). An item being handled when
    the block is left by an exception (cancellation included) stays unprocessed. Should
    ``on_cursor`` raise, its exception comes out of the iteration and the same cursor is offered
    to it again at the next iteration. ``on_cursor`` always runs in the iterating task, inside
    the iteration, never concurrently with the caller's own processing; it is also called when
    a heartbeat moves the cursor on without an item (see :attr:`cursor`).

    One task should iterate a subscription at a time.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        token: str | None,
        cursor: str | None,
        urgent_only: bool,
        topic: str,
        thread_id: str,
        include_bodies: bool,
        include_events: bool,
        on_cursor: CursorCallback | None,
        reconnect: ReconnectPolicy,
        idle_timeout: float | None,
    ) -> None:
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive or None")
        self._connection = connection
        self._metadata = (("authorization", f"Bearer {token}"),) if token is not None else None
        self._request = mail_service_pb2.SubscribeInboxRequest(
            urgent_only=urgent_only,
            topic=topic,
            thread_id=thread_id,
            view=_view(include_bodies),
            mail_only=not include_events,
        )
        self._on_cursor = on_cursor
        self._policy = reconnect
        self._idle_timeout = idle_timeout
        # Both start at the caller's cursor: "processed" advances in the consumer, "received"
        # (where a reconnection resumes) in the reader, ahead by what is buffered.
        self._cursor = cursor or None
        self._received = cursor or None
        self._persisted = cursor or None
        self._pending: str | None = None
        self._events: collections.deque[E | _Progress] = collections.deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._end: Exception | _Closed | None = None
        self._reader: asyncio.Task[None] | None = None
        self._failures = 0
        self._reconnects = 0
        # Why the latest stream ended, for wait_for_mail to report while reconnection goes on.
        self._last_error: AgentmailError | None = None
        self._last_heartbeat: datetime.datetime | None = None
        self.caught_up = asyncio.Event()
        """Set at the first heartbeat of each connection, once the backlog has been received
        and new mail arrives live; cleared while the subscription is reconnecting."""

    @property
    def cursor(self) -> str | None:
        """Where the caller has processed the inbox up to; resume a later subscription here.

        The cursor of the last item handed out *before* the latest request for another item
        (or before a clean exit from the ``async with`` block). Heartbeats are never yielded,
        but a heartbeat's tail cursor replaces this one as soon as no item received before
        the heartbeat is still unprocessed (at once when the caller holds no item and none is
        buffered): so the cursor also moves past mail the filters skipped and, without a
        starting cursor, to the inbox tail when first caught up. ``None`` until then when no
        starting cursor was given.
        """
        return self._cursor

    @property
    def reconnects(self) -> int:
        """How many times a new stream was opened after the previous one failed."""
        return self._reconnects

    @property
    def last_heartbeat(self) -> datetime.datetime | None:
        """The server time of the newest heartbeat received, or ``None`` before the first."""
        return self._last_heartbeat

    @property
    def closed(self) -> bool:
        """Whether the subscription was closed (by the caller, not by a failure)."""
        return isinstance(self._end, _Closed)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> E:
        """Marks the previous item processed, then waits for the next one.

        Raises:
            StopAsyncIteration: The subscription was closed.
            AgentmailError: It broke: a non-retryable error, or reconnection gave up.
        """
        while (item := await self._next_nowait()) is None:
            if isinstance(self._end, _Closed):
                raise StopAsyncIteration
            await self._until_received()
        return item

    async def _next_nowait(self) -> E | None:
        """``__anext__`` without waiting (for ``wait_for_mail`` too): the next item received,
        or ``None`` when there is none (yet, or ever: see :attr:`closed`); raises if broken."""
        if isinstance(self._end, _Closed):
            return None
        self._start()
        await self._commit()
        while self._events:
            event = self._events.popleft()
            self._room.set()
            if not isinstance(event, _Progress):
                self._pending = event.cursor
                return event
            self._cursor = event.cursor
            await self._persist(event.cursor)
        if isinstance(self._end, Exception):
            raise self._end
        return None

    async def _until_received(self) -> None:
        """Waits until an event is buffered, a connection's first heartbeat arrives or the
        subscription ends; returns at once when an event is buffered or it has ended."""
        if not self._events and self._end is None:
            self._ready.clear()
            await self._ready.wait()

    async def __aenter__(self) -> Self:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None and not isinstance(self._end, _Closed):
                # The block ended normally, so the last item handed out was dealt with.
                await self._commit()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Cancels the stream and ends iteration without an error; idempotent.

        Safe to call from another task: a consumer waiting for the next item stops iterating.
        The item last handed out is not marked processed.
        """
        self._finish(_CLOSED)
        self._events.clear()
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            # asyncio.wait, unlike awaiting the task, does not turn its cancellation into ours.
            await asyncio.wait({reader})

    def _start(self) -> None:
        if self._reader is None and self._end is None:
            self._reader = asyncio.create_task(self._run(), name="agentmail-subscription")
            self._reader.add_done_callback(self._reader_done)

    def _finish(self, end: Exception | _Closed) -> None:
        if not isinstance(self._end, _Closed):
            self._end = end
        self._ready.set()
        self._room.set()

    def _reader_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            # Either aclose() cancelled it or the client's channel was closed, which cancels
            # its calls: both are closings, not failures.
            self._finish(_CLOSED)
        elif (error := task.exception()) is not None:
            self._finish(error if isinstance(error, Exception) else RuntimeError(repr(error)))

    async def _commit(self) -> None:
        if self._pending is not None:
            self._cursor = self._pending
            await self._persist(self._pending)
            # Only now: should on_cursor fail, it is called again at the next iteration.
            self._pending = None

    async def _persist(self, cursor: str) -> None:
        if self._on_cursor is not None and cursor != self._persisted:
            result = self._on_cursor(cursor)
            if inspect.isawaitable(result):
                await result
        self._persisted = cursor

    async def _run(self) -> None:
        """The reader: connect, read until the stream breaks, back off, resume; repeat."""
        while not self._connection.closed:
            error = await self._read_stream()
            self.caught_up.clear()
            self._last_error = error
            if not is_reconnectable(error):
                self._finish(error)
                return
            self._failures += 1
            limit = self._policy.max_attempts
            if limit is not None and self._failures > limit:
                _log.warning(
                    "subscription gave up after %d reconnection attempts: %s", limit, error
                )
                self._finish(error)
                return
            delay = self._policy.backoff(self._failures - 1, error.retry_after)
            _log.info("subscription broke (%s); reconnecting in %.3f s", error, delay)
            await asyncio.sleep(delay)
            self._reconnects += 1
        self._finish(_CLOSED)

    async def _read_stream(self) -> AgentmailError:
        """Runs one SubscribeInbox call to its end; returns the error that ended it."""
        request = mail_service_pb2.SubscribeInboxRequest()
        request.CopyFrom(self._request)
        request.cursor = self._received or ""
        call = self._connection.mail.SubscribeInbox(request, metadata=self._metadata)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._idle_timeout):
                        response = await call.read()
                except TimeoutError:
                    return DeadlineExceeded(
                        f"no message or heartbeat for {self._idle_timeout} s (idle_timeout)",
                        code=grpc.StatusCode.DEADLINE_EXCEEDED,
                    )
                except grpc.aio.AioRpcError as exc:
                    error = error_from_rpc(exc)
                    error.__cause__ = exc
                    return error
                # The stubs type read() as `object`: anything but a response is grpc.aio.EOF.
                if not isinstance(response, mail_service_pb2.SubscribeInboxResponse):
                    return Unavailable(
                        "the server ended the subscription without a status",
                        code=grpc.StatusCode.UNAVAILABLE,
                    )
                if response.WhichOneof("event") == "end":
                    # The final frame: nothing follows but the status, which may not even
                    # arrive intact; the frame alone says where and when to resume.
                    return await self._final(response.end)
                await self._receive(response)
        finally:
            call.cancel()

    async def _final(self, end: mail_service_pb2.SubscribeInboxResponse.StreamEnd) -> Unavailable:
        """Applies a final frame's resume cursor; returns the error to reconnect after."""
        if end.resume_cursor:  # empty only when the stream had no position yet
            await self._advance(end.resume_cursor)
        return Unavailable(
            "the server ended the subscription; resuming from its final cursor",
            code=grpc.StatusCode.UNAVAILABLE,
            reason=end.reason or None,
            retry_after=end.retry_after_ms / 1000 if end.retry_after_ms > 0 else None,
        )

    async def _receive(self, response: mail_service_pb2.SubscribeInboxResponse) -> None:
        kind = response.WhichOneof("event")
        if kind == "item":
            item = InboxItem.from_proto(response.item)
            self._received = item.cursor
            await self._put(item)
        elif kind == "agent_event":
            # Sent only when the request asked for events (mail_only unset), i.e. E includes
            # AgentEvent; the cast states that for the InboxItem-only constraint too.
            event = AgentEvent.from_proto(response.agent_event)
            self._received = event.cursor
            await self._put(cast(E, event))
        elif kind == "heartbeat":
            heartbeat = response.heartbeat
            if heartbeat.HasField("server_time"):
                self._last_heartbeat = heartbeat.server_time.ToDatetime(tzinfo=datetime.UTC)
            if not self.caught_up.is_set():
                self._failures = 0
                self.caught_up.set()
                self._ready.set()  # even when no progress is queued: wait_for_mail stops here
            # The stream is ordered: a heartbeat covers every item sent before it, so its
            # tail is never behind the last item's cursor.
            if heartbeat.tail_cursor:
                await self._advance(heartbeat.tail_cursor)
        # Any other kind is an event newer than this client; skipping it is safe.

    async def _advance(self, tail: str) -> None:
        """Progress without an item (a heartbeat's tail or a final frame's resume cursor)."""
        if tail != self._received:
            self._received = tail
            if self._pending is None and not self._events:
                # Nothing in the caller's hands or on the way: the progress applies now.
                # on_cursor still runs in the iterating task, when it next iterates.
                self._cursor = tail
            await self._put(_Progress(tail))

    async def _put(self, event: E | _Progress) -> None:
        while len(self._events) >= BUFFER_SIZE:
            self._room.clear()
            await self._room.wait()
        self._events.append(event)
        self._ready.set()
