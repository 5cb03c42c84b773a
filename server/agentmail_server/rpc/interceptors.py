"""Server interceptor: maps service errors to rich statuses and logs one line per RPC.

An aio interceptor only sees the handler lookup, so it wraps the returned handler's behaviour
for each RPC shape, keeping the (de)serializers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

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


class ErrorMappingInterceptor(aio.ServerInterceptor):
    """Turns AgentmailError into status + details, hides bugs behind INTERNAL, logs each call."""

    def __init__(self, log_calls: bool) -> None:
        self._log_calls = log_calls
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
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # no client-streaming methods in this API

    def _log(self, method: str, request_id: str, code: str, started: float) -> None:
        if self._log_calls:
            access_log.info(
                "%s %s %s %.2fms", request_id, method, code, (time.perf_counter() - started) * 1e3
            )

    async def _fail(self, context: Any, exc: Exception, method: str, request_id: str) -> None:
        """Abort the call with the error's status; anything unexpected is logged as a bug."""
        if isinstance(exc, AgentmailError):
            await context.abort_with_status(to_status(exc))
        logger.error("%s %s failed", request_id, method, exc_info=exc)
        await context.abort_with_status(internal_status(request_id))

    def _wrap_unary(self, method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def unary(request: Any, context: Any) -> Any:
            started = time.perf_counter()
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
                self._log(method, request_id, code, started)

        return unary

    def _wrap_stream(self, method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            started = time.perf_counter()
            request_id = _request_id(context)
            code = "OK"
            try:
                async for response in behaviour(request, context):
                    yield response
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
                self._log(method, request_id, code, started)

        return stream
