"""Server interceptor: maps service errors to rich statuses, logs one line per RPC, reports
each call to an optional observer (the metrics) and admits it through the rate limiter.

An aio interceptor only sees the handler lookup, so it wraps the returned handler's behaviour
for each RPC shape, keeping the response serializer and making the request deserializer
tolerant (see :mod:`agentmail_server.rpc.malformed`). Error mapping, logging and metrics share
that one wrapper: every interceptor layer costs CPU on every call.

Every service on the endpoint goes through it (ours, health, reflection, the ceiling), so it
handles both ways an aio handler can stream responses: an async generator that yields them, or
a coroutine that calls ``context.write`` (as ``grpc.health.v1.Health/Watch`` does).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import grpc
from grpc import aio

from agentmail_server.errors import AgentmailError
from agentmail_server.rpc.admission import Admission, Gate
from agentmail_server.rpc.context import metadata_value
from agentmail_server.rpc.malformed import Malformed, malformed_error, tolerant
from agentmail_server.rpc.status import internal_status, status_code_for, to_status

# One line per call: at DEBUG normally, at INFO when the access log is on.
access_log = logging.getLogger("agentmail_server.access")
logger = logging.getLogger(__name__)

_request_numbers = itertools.count(1)


# Statuses that refuse a call rather than fail it: counted by reason
# (agentmail_rejected_calls_total).
REJECTED_CODES = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


def _code_of(context: Any) -> grpc.StatusCode:
    code = context.code()
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def _request_id(context: Any) -> str:
    given = metadata_value(context, "x-request-id")
    return given[:64] if given else f"r{next(_request_numbers)}"


class CallRecorder(Protocol):
    """Receives the calls of one method (see ``agentmail_server.metrics.MethodStats``)."""

    def started(self) -> None:
        """A call began (a unary request counts as received)."""

    def received(self) -> None:
        """A streamed request message arrived."""

    def sent(self) -> None:
        """A streamed response message went out."""

    def handled(self, code: grpc.StatusCode, seconds: float) -> None:
        """The call ended with status ``code`` after ``seconds``."""

    def rejected(self, reason: str) -> None:
        """The call was refused (unauthenticated, permission denied, rate limited, flood
        guard, too many subscriptions ...): ``reason`` is its ErrorInfo reason, or the
        status code's name when the call was aborted without one."""


class CallObserver(Protocol):
    """Hands out one recorder per method; asked once per method, when its handler is wrapped."""

    def recorder(self, full_method: str, rpc_type: str) -> CallRecorder:
        """The recorder for ``full_method`` (``/pkg.Service/Method``) of shape ``rpc_type``
        (``unary``, ``client_stream``, ``server_stream`` or ``bidi_stream``)."""


async def _checked(
    requests: AsyncIterable[Any], recorder: CallRecorder | None
) -> AsyncIterator[Any]:
    """The streamed requests, counted; a malformed one ends the call with INVALID_ARGUMENT."""
    async for request in requests:
        if recorder is not None:
            recorder.received()
        if isinstance(request, Malformed):
            raise malformed_error(request)
        yield request


class _CountingContext:
    """The servicer context of a handler that writes its responses: counts each write."""

    def __init__(self, context: Any, recorder: CallRecorder) -> None:
        self._context = context
        self._recorder = recorder

    async def write(self, message: Any) -> None:
        """Send ``message`` and count it once gRPC has taken it."""
        await self._context.write(message)
        self._recorder.sent()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class _Call:
    """One call's bookkeeping: its start, id and eventual status, and how to end it."""

    __slots__ = ("code", "reason", "request_id", "started")

    def __init__(self, context: Any, recorder: CallRecorder | None) -> None:
        self.started = time.perf_counter()
        if recorder is not None:
            recorder.started()
        self.request_id = _request_id(context)
        self.code = grpc.StatusCode.OK
        self.reason = ""


class ErrorMappingInterceptor(aio.ServerInterceptor):
    """Turns AgentmailError into status + details, hides bugs behind INTERNAL, logs each call.

    Args:
        access_log: log one line per call at INFO on ``agentmail_server.access`` (otherwise
            at DEBUG, so that only a debugging operator sees them).
        observer: told about every call of every registered method (metrics); None for none.
        admission: the rate limiter, asked once per method for its gate; None for no limits.
    """

    def __init__(
        self,
        access_log: bool = False,
        observer: CallObserver | None = None,
        admission: Admission | None = None,
    ) -> None:
        self._call_level = logging.INFO if access_log else logging.DEBUG
        self._observer = observer
        self._admission = admission
        # Wrapped handlers by method: the lookup runs on every call, the wrapping only once.
        # Bounded by the number of methods the server registers.
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler  # unknown method: gRPC answers UNIMPLEMENTED; nothing to cache
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        shapes = (
            (handler.unary_unary, grpc.unary_unary_rpc_method_handler, "unary"),
            (handler.unary_stream, grpc.unary_stream_rpc_method_handler, "server_stream"),
            (handler.stream_unary, grpc.stream_unary_rpc_method_handler, "client_stream"),
            (handler.stream_stream, grpc.stream_stream_rpc_method_handler, "bidi_stream"),
        )
        for behaviour, make_handler, rpc_type in shapes:
            if behaviour is None:
                continue
            observer = self._observer
            recorder = observer.recorder(method, rpc_type) if observer is not None else None
            streamed_requests = rpc_type in ("client_stream", "bidi_stream")
            gate = self._admission.gate(method) if self._admission is not None else None
            if rpc_type in ("unary", "client_stream"):
                wrapped = self._wrap_call(
                    method, behaviour, recorder, gate, streamed_requests, counts_writes=False
                )
            elif inspect.isasyncgenfunction(behaviour):
                wrapped = self._wrap_stream(method, behaviour, recorder, gate, streamed_requests)
            else:
                wrapped = self._wrap_call(
                    method, behaviour, recorder, gate, streamed_requests, counts_writes=True
                )
            return make_handler(
                wrapped,
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler

    def _done(self, method: str, call: _Call, recorder: CallRecorder | None, context: Any) -> None:
        seconds = time.perf_counter() - call.started
        if recorder is not None:
            recorder.handled(call.code, seconds)
        if call.code in REJECTED_CODES:
            if recorder is not None:
                recorder.rejected(call.reason or call.code.name)
            if call.code is grpc.StatusCode.UNAUTHENTICATED and self._admission is not None:
                self._admission.charge_failure(method, context)
        if access_log.isEnabledFor(self._call_level):
            # Method, status, reason and time only: never metadata (it holds the token).
            access_log.log(
                self._call_level,
                "%s %s %s%s %.2fms",
                call.request_id,
                method,
                call.code.name,
                f" {call.reason}" if call.reason else "",
                seconds * 1e3,
            )

    async def _fail(self, context: Any, exc: Exception, method: str, call: _Call) -> None:
        """Abort the call with the error's status; anything unexpected is logged as a bug."""
        if isinstance(exc, AgentmailError):
            call.code = status_code_for(exc)
            call.reason = exc.reason
            await context.abort_with_status(to_status(exc))
        call.code = grpc.StatusCode.INTERNAL
        logger.error("%s %s failed", call.request_id, method, exc_info=exc)
        await context.abort_with_status(internal_status(call.request_id))

    def _prepare(self, request: Any, recorder: CallRecorder | None, streamed_requests: bool) -> Any:
        """The request as the handler should see it; raises for a malformed unary request."""
        if streamed_requests:
            return _checked(request, recorder)
        if isinstance(request, Malformed):
            # The client's mistake, like any INVALID_ARGUMENT: it shows in the per-call line
            # (DEBUG, or INFO with the access log) with its reason, and nowhere else. A
            # WARNING would let any client fill the operator's log.
            raise malformed_error(request)
        return request

    def _wrap_call(
        self,
        method: str,
        behaviour: Callable[..., Any],
        recorder: CallRecorder | None,
        gate: Gate | None,
        streamed_requests: bool,
        *,
        counts_writes: bool,
    ) -> Callable[..., Any]:
        """A handler that returns once: a unary response, or (``counts_writes``) a streaming
        handler that sends with ``context.write`` and returns nothing, each write counted."""

        async def call_once(request: Any, context: Any) -> Any:
            call = _Call(context, recorder)
            try:
                if gate is not None:
                    gate(context, request)
                request = self._prepare(request, recorder, streamed_requests)
                handed = context
                if counts_writes and recorder is not None:
                    handed = _CountingContext(context, recorder)
                return await behaviour(request, handed)
            except aio.AbortError:
                call.code = _code_of(context)
                raise
            except asyncio.CancelledError:
                call.code = grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                await self._fail(context, exc, method, call)
            finally:
                self._done(method, call, recorder, context)

        return call_once

    def _wrap_stream(
        self,
        method: str,
        behaviour: Callable[..., Any],
        recorder: CallRecorder | None,
        gate: Gate | None,
        streamed_requests: bool,
    ) -> Callable[..., AsyncIterator[Any]]:
        """A streaming handler that yields its responses (an async generator)."""

        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            call = _Call(context, recorder)
            try:
                if gate is not None:
                    gate(context, request)
                request = self._prepare(request, recorder, streamed_requests)
                async for response in behaviour(request, context):
                    yield response
                    # gRPC resumes the generator once it has sent the message; a stream
                    # cancelled at this yield did not get it out.
                    if recorder is not None:
                        recorder.sent()
            except aio.AbortError:
                call.code = _code_of(context)
                raise
            except (asyncio.CancelledError, GeneratorExit):
                call.code = grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                await self._fail(context, exc, method, call)
            finally:
                self._done(method, call, recorder, context)

        return stream
