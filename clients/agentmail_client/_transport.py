"""The channel, the retry loop, and the single boundary where gRPC errors become ours."""

# ruff: noqa: ASYNC109 -- `timeout` becomes the gRPC deadline, which the server sees and
# honours; an asyncio.timeout around the call would only cancel it locally.

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

import grpc
import grpc.aio
from agentmail.v1 import (
    agent_service_pb2_grpc,
    mail_service_pb2_grpc,
    reservation_service_pb2_grpc,
    search_service_pb2_grpc,
)

from ._config import ChannelConfig, RetryPolicy, Timeouts
from ._errors import (
    AgentmailError,
    DeadlineExceeded,
    ResourceExhausted,
    Unavailable,
    error_from_rpc,
)

if TYPE_CHECKING:
    from agentmail.v1.agent_service_pb2_grpc import AgentServiceAsyncStub
    from agentmail.v1.mail_service_pb2_grpc import MailServiceAsyncStub
    from agentmail.v1.reservation_service_pb2_grpc import ReservationServiceAsyncStub
    from agentmail.v1.search_service_pb2_grpc import SearchServiceAsyncStub

_log = logging.getLogger("agentmail_client")

Req = TypeVar("Req")
Resp = TypeVar("Resp")


# The metadata key of the enrollment secret (see the server's ``enrollment_secret``).
ENROLLMENT_METADATA_KEY = "x-agentmail-enrollment"


class CallKind(enum.Enum):
    """What a call may safely repeat, which decides its retries and default deadline."""

    READ = "read"
    IDEMPOTENT_WRITE = "idempotent_write"
    WRITE = "write"


# RESOURCE_EXHAUSTED reasons that clear with time. A too-large request is RESOURCE_EXHAUSTED
# too, and would only fail again.
_PASSING_LIMITS = frozenset({"WRITER_OVERLOADED", "RATE_LIMITED", "FLOOD_GUARD"})


def is_retryable(kind: CallKind, error: AgentmailError) -> bool:
    """Whether a call of ``kind`` that failed with ``error`` may be sent again."""
    if isinstance(error, ResourceExhausted) and error.reason == "RATE_LIMITED":
        # The server refuses a rate-limited call before its handler runs: nothing happened,
        # so even a plain write may be sent again (after the server's delay).
        return True
    if kind is CallKind.WRITE:
        return False
    if isinstance(error, Unavailable):
        return True
    if isinstance(error, ResourceExhausted):
        return error.reason in _PASSING_LIMITS
    # A write that timed out may still commit; only reads are repeated after a deadline.
    return isinstance(error, DeadlineExceeded) and kind is CallKind.READ


class Connection:
    """The channel and stubs shared by a client and the views made by ``with_token``.

    The channel is created on first use so that a client can be constructed outside a
    running event loop; gRPC binds a channel to the loop that creates it.
    """

    def __init__(
        self,
        target: str,
        channel_config: ChannelConfig,
        credentials: grpc.ChannelCredentials | None,
        interceptors: Sequence[grpc.aio.ClientInterceptor],
    ) -> None:
        self._target = target
        self._options = channel_config.options()
        self._credentials = credentials
        self._interceptors = list(interceptors)
        self._channel: grpc.aio.Channel | None = None
        self._agents: AgentServiceAsyncStub | None = None
        self._mail: MailServiceAsyncStub | None = None
        self._search: SearchServiceAsyncStub | None = None
        self._reservations: ReservationServiceAsyncStub | None = None
        self._closed = False

    def _open(self) -> grpc.aio.Channel:
        if self._closed:
            raise RuntimeError("this AgentmailClient was closed")
        if self._channel is None:
            if self._credentials is None:
                self._channel = grpc.aio.insecure_channel(
                    self._target, options=self._options, interceptors=self._interceptors
                )
            else:
                self._channel = grpc.aio.secure_channel(
                    self._target,
                    self._credentials,
                    options=self._options,
                    interceptors=self._interceptors,
                )
        return self._channel

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def agents(self) -> AgentServiceAsyncStub:
        """The AgentService stub (opening the channel if needed)."""
        if self._agents is None:
            self._agents = agent_service_pb2_grpc.AgentServiceStub(self._open())
        return self._agents

    @property
    def mail(self) -> MailServiceAsyncStub:
        """The MailService stub (opening the channel if needed)."""
        if self._mail is None:
            self._mail = mail_service_pb2_grpc.MailServiceStub(self._open())
        return self._mail

    @property
    def search(self) -> SearchServiceAsyncStub:
        """The SearchService stub (opening the channel if needed)."""
        if self._search is None:
            self._search = search_service_pb2_grpc.SearchServiceStub(self._open())
        return self._search

    @property
    def reservations(self) -> ReservationServiceAsyncStub:
        """The ReservationService stub (opening the channel if needed)."""
        if self._reservations is None:
            self._reservations = reservation_service_pb2_grpc.ReservationServiceStub(self._open())
        return self._reservations

    async def close(self) -> None:
        """Closes the channel; later calls raise RuntimeError."""
        self._closed = True
        if self._channel is not None:
            channel, self._channel = self._channel, None
            self._agents = self._mail = self._search = None
            self._reservations = None
            await channel.close()


async def invoke(
    rpc: grpc.aio.UnaryUnaryMultiCallable[Req, Resp],
    request: Req,
    *,
    kind: CallKind,
    token: str | None,
    timeout: float | None,
    retry: RetryPolicy,
    extra_metadata: tuple[tuple[str, str], ...] = (),
) -> Resp:
    """Makes a unary call, retrying it if ``kind`` allows, and maps a failure to our errors.

    Args:
        rpc: The stub method.
        request: The request message.
        kind: Whether the call may be repeated, and after which failures.
        token: Agent token for the ``authorization`` header, or None to send none.
        timeout: Deadline of each attempt in seconds, or None for no deadline.
        retry: How often and how long to back off.
        extra_metadata: Further metadata to send, such as the enrollment secret.

    Raises:
        AgentmailError: The most specific subclass for the last attempt's failure.
    """
    auth = (("authorization", f"Bearer {token}"),) if token is not None else ()
    metadata = (*auth, *extra_metadata) or None
    attempt = 0
    while True:
        try:
            return await rpc(request, timeout=timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            error = error_from_rpc(exc)
            cause = exc
        attempt += 1
        if attempt >= retry.max_attempts or not is_retryable(kind, error):
            raise error from cause
        if isinstance(error, ResourceExhausted) and (error.retry_after or 0) > retry.max_backoff:
            # Retrying before the server's delay would only be refused again: say so now.
            raise error from cause
        delay = retry.backoff(attempt - 1, error.retry_after)
        _log.debug(
            "retrying %s after %s in %.3fs (attempt %d of %d)",
            type(request).__name__,
            error,
            delay,
            attempt + 1,
            retry.max_attempts,
        )
        await asyncio.sleep(delay)


class ClientBase:
    """What every group of calls shares: the connection, the agent token, deadlines, retries.

    Args:
        connection: The channel holder, possibly shared with other clients.
        token: Agent token to send, or None.
        timeouts: Default per-attempt deadlines.
        retry: Retry policy of idempotent calls.
        owns_connection: Whether closing this client closes the connection.
        enrollment_secret: The server's enrollment secret, sent (as
            ``x-agentmail-enrollment`` metadata) only on calls that create a project or agent.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        token: str | None,
        timeouts: Timeouts,
        retry: RetryPolicy,
        owns_connection: bool,
        enrollment_secret: str | None = None,
    ) -> None:
        self._connection = connection
        self._token = token
        self._enrollment_secret = enrollment_secret
        self._timeouts = timeouts
        self._retry = retry
        self._owns_connection = owns_connection

    async def _call(
        self,
        rpc: grpc.aio.UnaryUnaryMultiCallable[Req, Resp],
        request: Req,
        kind: CallKind,
        timeout: float | None,
        *,
        enrolling: bool = False,
    ) -> Resp:
        if timeout is None:
            timeout = self._timeouts.read if kind is CallKind.READ else self._timeouts.write
        extra: tuple[tuple[str, str], ...] = ()
        if enrolling and self._enrollment_secret is not None:
            extra = ((ENROLLMENT_METADATA_KEY, self._enrollment_secret),)
        return await invoke(
            rpc,
            request,
            kind=kind,
            token=self._token,
            timeout=timeout,
            retry=self._retry,
            extra_metadata=extra,
        )
