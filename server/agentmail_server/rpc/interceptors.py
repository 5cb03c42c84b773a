"""Server interceptor: maps service errors to rich statuses, logs one line per RPC and reports
each call to an optional observer (the metrics).

An aio interceptor only sees the handler lookup, so it wraps the returned handler's behaviour
for each RPC shape, keeping the (de)serializers. Error mapping, logging and metrics share that
one wrapper: every interceptor layer costs CPU on every call.
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
from agentmail_server.rpc.context import metadata_value
from agentmail_server.rpc.status import internal_status, status_code_for, to_status

access_log = logging.getLogger("agentmail_server.access")
logger = logging.getLogger(__name__)

_request_numbers = itertools.count(1)


def _code_name(context: Any) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


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

    def handled(self, code: str, seconds: float) -> None:
        """The call ended with status ``code`` after ``seconds``."""


class CallObserver(Protocol):
    """Hands out one recorder per method; asked once per method, when its handler is wrapped."""

    def recorder(self, full_method: str, rpc_type: str) -> CallRecorder:
        """The recorder for ``full_method`` (``/pkg.Service/Method``) of shape ``rpc_type``
        (``unary``, ``client_stream``, ``server_stream`` or ``bidi_stream``)."""


async def _counted(requests: AsyncIterable[Any], recorder: CallRecorder) -> AsyncIterator[Any]:
    async for request in requests:
        recorder.received()
        yield request


class ErrorMappingInterceptor(aio.ServerInterceptor):
    """Turns AgentmailError into status + details, hides bugs behind INTERNAL, logs each call.

    Args:
        log_calls: log one line per call (at INFO on ``agentmail_server.access``).
        observer: told about every call of every registered method (metrics); None for none.
    """

    def __init__(self, log_calls: bool, observer: CallObserver | None = None) -> None:
        self._log_calls = log_calls
        self._observer = observer
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
            if rpc_type in ("unary", "client_stream"):
                wrapped = self._wrap_unary(method, behaviour, recorder, streamed_requests)
            else:
                wrapped = self._wrap_stream(method, behaviour, recorder, streamed_requests)
            return make_handler(
                wrapped,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _done(
        self,
        method: str,
        request_id: str,
        code: str,
        started: float,
        recorder: CallRecorder | None,
    ) -> None:
        seconds = time.perf_counter() - started
        if recorder is not None:
            recorder.handled(code, seconds)
        if self._log_calls:
            access_log.info("%s %s %s %.2fms", request_id, method, code, seconds * 1e3)

    async def _fail(self, context: Any, exc: Exception, method: str, request_id: str) -> None:
        """Abort the call with the error's status; anything unexpected is logged as a bug."""
        if isinstance(exc, AgentmailError):
            await context.abort_with_status(to_status(exc))
        logger.error("%s %s failed", request_id, method, exc_info=exc)
        await context.abort_with_status(internal_status(request_id))

    def _wrap_unary(
        self,
        method: str,
        behaviour: Callable[..., Any],
        recorder: CallRecorder | None,
        streamed_requests: bool,
    ) -> Callable[..., Any]:
        async def unary(request: Any, context: Any) -> Any:
            started = time.perf_counter()
            if recorder is not None:
                recorder.started()
                if streamed_requests:
                    request = _counted(request, recorder)
            request_id = _request_id(context)
            code = "OK"
            try:
                return await behaviour(request, context)
            except aio.AbortError:
                code = _code_name(context)
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except Exception as exc:
                code = status_code_for(exc).name if isinstance(exc, AgentmailError) else "INTERNAL"
                await self._fail(context, exc, method, request_id)
            finally:
                self._done(method, request_id, code, started, recorder)

        return unary

    def _wrap_stream(
        self,
        method: str,
        behaviour: Callable[..., Any],
        recorder: CallRecorder | None,
        streamed_requests: bool,
    ) -> Callable[..., Any]:
        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            started = time.perf_counter()
            if recorder is not None:
                recorder.started()
                if streamed_requests:
                    request = _counted(request, recorder)
            request_id = _request_id(context)
            code = "OK"
            try:
                responses = behaviour(request, context)
                if inspect.isawaitable(responses):
                    # A handler that writes with context.write() and returns nothing, such as
                    # grpc_health's Watch: run it (what it writes is not counted as sent).
                    await responses
                    return
                async for response in responses:
                    yield response
                    # gRPC resumes the generator once it has sent the message; a stream
                    # cancelled at this yield did not get it out.
                    if recorder is not None:
                        recorder.sent()
            except aio.AbortError:
                code = _code_name(context)
                raise
            except (asyncio.CancelledError, GeneratorExit):
                code = "CANCELLED"
                raise
            except Exception as exc:
                code = status_code_for(exc).name if isinstance(exc, AgentmailError) else "INTERNAL"
                await self._fail(context, exc, method, request_id)
            finally:
                self._done(method, request_id, code, started, recorder)

        return stream
