"""The asynchronous agentmail client: one gRPC channel, typed methods, retries, error mapping."""

# ruff: noqa: ASYNC109 -- wait_for_mail's `timeout` is how long to wait for mail, and its
# expiry is a result (timed_out, with a cursor to go on from), not an error to raise.

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

import grpc
import grpc.aio

from ._agents import AgentCalls
from ._bulk import BulkCalls
from ._config import ChannelConfig, ReconnectPolicy, RetryPolicy, Timeouts
from ._contacts import ContactCalls
from ._events import AgentEvent
from ._mail import MailCalls
from ._models import InboxItem
from ._receipts import AckCalls
from ._reservations import ReservationCalls
from ._search import SearchCalls
from ._subscribe import CursorCallback, Subscription
from ._transport import ClientBase, Connection
from ._wait import WaitForMailResult, wait_for_mail

_DEFAULT_TIMEOUTS = Timeouts()
_DEFAULT_RETRY = RetryPolicy()
_DEFAULT_CHANNEL = ChannelConfig()
_DEFAULT_RECONNECT = ReconnectPolicy()


class AgentmailClient(
    AgentCalls, ContactCalls, MailCalls, BulkCalls, AckCalls, SearchCalls, ReservationCalls
):
    """An asynchronous client of one agentmail server.

    Use it as an async context manager, which closes the channel on exit::

        async with AgentmailClient("127.0.0.1:7070") as client:
            ensured = await client.ensure_project("/repo/path")
            reg = await client.register_agent(ensured.project.slug, "Alice")
            # the client now acts as Alice
            await client.send_message(to="Bob", subject="hi", body="...")

    Over TLS (and mTLS), pass :class:`~agentmail_client.TlsConfig` in the channel settings::

        tls = TlsConfig(root_certificates="ca.pem")  # + client_certificate, client_key for mTLS
        async with AgentmailClient("agentmail.example:7070", channel=ChannelConfig(tls=tls)):
            ...

    The client holds at most one agent token and sends it as ``authorization: Bearer <token>``
    on every call. Calls that are safe to repeat are retried on transient failures according
    to ``retry``; every failure is raised as an :class:`~agentmail_client.AgentmailError`
    subclass. Calls from several tasks may run concurrently over the one channel.

    An operator token given as ``token`` makes the client act as the operator: it may list
    every project, retire and unretire any agent, :meth:`revoke_tokens` and
    :meth:`force_release_reservation` of any project, but every mail call fails with
    :class:`~agentmail_client.PermissionDenied` (``OPERATOR_CANNOT_READ_MAIL``). So does a
    client without a token whose TLS client certificate (``TlsConfig.client_certificate``)
    has a common name the server lists in ``operator_cert_names``; a token, when the client
    holds one, decides who it is.

    Args:
        target: Server address, such as ``127.0.0.1:7070``.
        token: Agent token to act as, if already known.
        timeouts: Default per-attempt deadlines.
        retry: Retry policy of idempotent calls.
        channel: gRPC channel settings (message size limits, keepalive, TLS); files named by
            its ``tls`` are read here.
        credentials: gRPC channel credentials built by the caller, for what
            ``ChannelConfig.tls`` does not cover; ``None`` uses ``channel.tls`` (plaintext
            when that is ``None`` too).
        interceptors: gRPC client interceptors, e.g. for tracing.
        enrollment_secret: The server's enrollment secret, if it has one: sent only with
            :meth:`ensure_project` and :meth:`register_agent`, never with other calls.

    Raises:
        ValueError: ``channel.tls`` names a file that cannot be read, or both
            ``channel.tls`` and ``credentials`` are given.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        timeouts: Timeouts = _DEFAULT_TIMEOUTS,
        retry: RetryPolicy = _DEFAULT_RETRY,
        channel: ChannelConfig = _DEFAULT_CHANNEL,
        credentials: grpc.ChannelCredentials | None = None,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
        enrollment_secret: str | None = None,
    ) -> None:
        if channel.tls is not None:
            if credentials is not None:
                raise ValueError("give TLS as channel=ChannelConfig(tls=...) or credentials=")
            credentials = channel.tls.channel_credentials()
        super().__init__(
            Connection(target, channel, credentials, interceptors),
            token=token,
            timeouts=timeouts,
            retry=retry,
            owns_connection=True,
            enrollment_secret=enrollment_secret,
        )

    @property
    def token(self) -> str | None:
        """The agent token sent with each call, or ``None``."""
        return self._token

    def with_token(self, token: str | None) -> AgentmailClient:
        """Returns a client acting with ``token`` (or none) over this client's channel.

        The new client is cheap; closing it does not close the shared channel, which stays
        open until this client is closed.

        Args:
            token: The agent token to act with, or ``None`` for an anonymous client.
        """
        view = AgentmailClient.__new__(AgentmailClient)
        ClientBase.__init__(
            view,
            self._connection,
            token=token,
            timeouts=self._timeouts,
            retry=self._retry,
            owns_connection=False,
            enrollment_secret=self._enrollment_secret,
        )
        return view

    def subscribe(
        self,
        *,
        cursor: str | None = None,
        urgent_only: bool = False,
        topic: str = "",
        thread_id: str = "",
        include_bodies: bool = True,
        on_cursor: CursorCallback | None = None,
        reconnect: ReconnectPolicy = _DEFAULT_RECONNECT,
        idle_timeout: float | None = None,
    ) -> Subscription[InboxItem]:
        """Subscribes to the agent's inbox: the backlog after ``cursor``, then live mail.

        The stream opens when the returned subscription is entered with ``async with`` (or
        first iterated), reconnects and resumes by itself after transient failures, and is
        cancelled when the block is left::

            async with client.subscribe(cursor=load(), on_cursor=save) as subscription:
                async for item in subscription:
                    handle(item)  # then save(item.cursor) runs before the next item

        Delivery is at least once: see :class:`~agentmail_client.Subscription` for when an
        item counts as processed and may be delivered again.

        Args:
            cursor: Resume strictly after this cursor (an item's ``cursor``, or a saved
                :attr:`Subscription.cursor`); ``None`` delivers only mail committed after the
                stream first reaches the server.
            urgent_only: Only HIGH and URGENT messages.
            topic: Only this topic.
            thread_id: Only this thread.
            include_bodies: False leaves bodies empty (``body_size_bytes`` stays set).
            on_cursor: Called (and awaited, if it returns an awaitable) with each newly
                processed cursor, before the next item is fetched: the place to persist it.
                Also called when a heartbeat moves the cursor past mail the filters skipped
                (or, without a starting cursor, to the inbox tail when first caught up).
            reconnect: Backoff between reconnections and when to give up.
            idle_timeout: Seconds without any message or heartbeat after which the connection
                is presumed dead and replaced; keep it well above the server's heartbeat
                interval (15 s by default). ``None`` relies on gRPC keepalive alone.

        Raises:
            ValueError: ``idle_timeout`` is not positive.

        The iteration raises ``InvalidArgument`` (``INVALID_PAGE_TOKEN``) for a cursor this
        server did not issue to this agent, and ``OutOfRange`` (``CURSOR_AHEAD``) for one past
        the end of the inbox (after a restore from an older backup); neither is retried.
        """
        return Subscription[InboxItem](
            self._connection,
            token=self._token,
            cursor=cursor,
            urgent_only=urgent_only,
            topic=topic,
            thread_id=thread_id,
            include_bodies=include_bodies,
            include_events=False,
            on_cursor=on_cursor,
            reconnect=reconnect,
            idle_timeout=idle_timeout,
        )

    def subscribe_with_events(
        self,
        *,
        cursor: str | None = None,
        urgent_only: bool = False,
        topic: str = "",
        thread_id: str = "",
        include_bodies: bool = True,
        on_cursor: CursorCallback | None = None,
        reconnect: ReconnectPolicy = _DEFAULT_RECONNECT,
        idle_timeout: float | None = None,
    ) -> Subscription[InboxItem | AgentEvent]:
        """Like :meth:`subscribe`, but the subscription also yields coordination events.

        Between inbox items, in commit order, come :class:`~agentmail_client.AgentEvent`
        values: an acknowledgement of a message the agent sent, a contact request to it or the
        answer to its own, a change to one of its file reservations (a conflict, a
        force-release, an expiry warning). Each has a cursor of the same kind as an item's and
        moves :attr:`Subscription.cursor` the same way, so one saved cursor resumes both. The
        filters (``urgent_only``, ``topic``, ``thread_id``) apply to mail only::

            async with client.subscribe_with_events(cursor=load(), on_cursor=save) as stream:
                async for entry in stream:
                    if isinstance(entry, AgentEvent):
                        react(entry.detail)
                    else:
                        handle(entry.message)

        Args and errors are those of :meth:`subscribe`.
        """
        return Subscription[InboxItem | AgentEvent](
            self._connection,
            token=self._token,
            cursor=cursor,
            urgent_only=urgent_only,
            topic=topic,
            thread_id=thread_id,
            include_bodies=include_bodies,
            include_events=True,
            on_cursor=on_cursor,
            reconnect=reconnect,
            idle_timeout=idle_timeout,
        )

    async def wait_for_mail(
        self,
        timeout: float | None,
        *,
        cursor: str | None = None,
        max_messages: int = 50,
        urgent_only: bool = False,
        topic: str = "",
        thread_id: str = "",
        include_bodies: bool = True,
        reconnect: ReconnectPolicy = _DEFAULT_RECONNECT,
    ) -> WaitForMailResult:
        """Waits up to ``timeout`` seconds for inbox mail after ``cursor`` and returns it.

        A short-lived :meth:`subscribe`: it returns as soon as there is mail (at once when
        some is already after the cursor, then all of that backlog up to ``max_messages``,
        plus whatever else has arrived), or with ``timed_out`` set when the timeout passes
        with none. Pass the result's ``cursor`` to the next call, so that consecutive waits
        neither skip nor repeat a message, including mail that arrives while a call
        returns::

            cursor = None  # or a saved cursor
            while True:
                result = await client.wait_for_mail(60, cursor=cursor)
                for item in result:
                    handle(item)
                cursor = result.cursor  # persist it to resume later

        The stream is closed before the call returns. If it breaks during the wait (for
        example when the server restarts), it reconnects like a subscription and resumes
        after the last item received, within the same timeout; should the timeout pass
        while it is still away, the call times out with a cursor that misses nothing.

        Args:
            timeout: Seconds to wait for mail; ``0`` only returns what is already after the
                cursor; ``None`` waits until some mail arrives. The backlog check always
                gets at least ``timeouts.read`` to reach the server.
            cursor: Return mail strictly after this cursor (an item's ``cursor``, or a
                previous result's ``cursor``); ``None`` starts at the current inbox tail, so
                that only mail committed from now on is returned.
            max_messages: Most items to return; the rest comes with the next call.
            urgent_only: Only HIGH and URGENT messages.
            topic: Only this topic.
            thread_id: Only this thread.
            include_bodies: False leaves bodies empty (``body_size_bytes`` stays set).
            reconnect: Backoff between reconnections when the stream breaks.

        Returns:
            The items, the cursor to go on from and whether the wait timed out.

        Raises:
            ValueError: ``timeout`` is negative or ``max_messages`` below 1.
            Unauthenticated: No valid token.
            InvalidArgument: ``INVALID_PAGE_TOKEN`` for a cursor this server did not issue
                to this agent (another agent's, or garbled).
            OutOfRange: ``CURSOR_AHEAD`` for a cursor past the end of the inbox, as after a
                restore of the server's data from a backup older than the cursor.
            Unavailable: The server could not be reached within ``max(timeout,
                timeouts.read)`` seconds (``timeouts.read`` for ``timeout=None``); or the
                other error that ended the latest attempt.
            RuntimeError: The client was closed.
        """
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must not be negative")
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        subscription = self.subscribe(
            cursor=cursor,
            urgent_only=urgent_only,
            topic=topic,
            thread_id=thread_id,
            include_bodies=include_bodies,
            reconnect=reconnect,
        )
        return await wait_for_mail(
            subscription,
            cursor=cursor,
            timeout=timeout,
            max_messages=max_messages,
            catch_up_timeout=self._timeouts.read,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the channel, cancelling calls in flight; a no-op on ``with_token`` views."""
        if self._owns_connection:
            await self._connection.close()
