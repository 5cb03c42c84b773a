"""The interceptor reports each call shape to the metrics observer from its one wrapper: a stream
closed while suspended at ``yield`` is CANCELLED, and streamed requests are counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from agentmail_server.metrics import RpcMetrics
from agentmail_server.rpc.interceptors import ErrorMappingInterceptor


class FakeContext:
    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


def wrap(handler: grpc.RpcMethodHandler[Any, Any], metrics: RpcMetrics) -> Any:
    interceptor = ErrorMappingInterceptor(observer=metrics)
    return interceptor._wrap("/test.Svc/Method", handler)


async def requests(count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"r"


async def test_a_stream_closed_at_yield_is_cancelled_and_counts_what_went_out():
    async def three(request: bytes, context: Any) -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x"

    metrics = RpcMetrics()
    stream = wrap(grpc.unary_stream_rpc_method_handler(three), metrics).unary_stream(
        b"", FakeContext()
    )
    await anext(stream)  # first message handed to gRPC
    await anext(stream)  # gRPC asked for more: the first one went out
    await stream.aclose()  # the client went away while the second one was at the yield

    (snapshot,) = metrics.stats()
    assert snapshot.rpc_type == "server_stream"
    assert snapshot.handled == (("Canceled", 1),)
    assert (snapshot.started, snapshot.received, snapshot.sent) == (1, 1, 1)
    assert sum(snapshot.bucket_counts) == 1


async def test_client_streaming_counts_each_request_and_one_response():
    async def total(request_iterator: AsyncIterator[bytes], context: Any) -> bytes:
        return b"".join([item async for item in request_iterator])

    metrics = RpcMetrics()
    call = wrap(grpc.stream_unary_rpc_method_handler(total), metrics).stream_unary

    assert await call(requests(3), FakeContext()) == b"rrr"

    (snapshot,) = metrics.stats()
    assert snapshot.rpc_type == "client_stream"
    assert (snapshot.started, snapshot.received, snapshot.sent) == (1, 3, 1)
    assert snapshot.handled == (("OK", 1),)


async def test_bidi_streaming_counts_both_directions():
    async def echo(request_iterator: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        async for item in request_iterator:
            yield item

    metrics = RpcMetrics()
    call = wrap(grpc.stream_stream_rpc_method_handler(echo), metrics).stream_stream

    assert [item async for item in call(requests(4), FakeContext())] == [b"r"] * 4

    (snapshot,) = metrics.stats()
    assert snapshot.rpc_type == "bidi_stream"
    assert (snapshot.started, snapshot.received, snapshot.sent) == (1, 4, 4)
    assert snapshot.handled == (("OK", 1),)


async def test_without_an_observer_the_wrapper_records_nothing():
    async def ok(request: bytes, context: Any) -> bytes:
        return b"ok"

    interceptor = ErrorMappingInterceptor()
    call = interceptor._wrap("/test.Svc/M", grpc.unary_unary_rpc_method_handler(ok)).unary_unary

    assert await call(b"", FakeContext()) == b"ok"


class WritingContext(FakeContext):
    """gRPC's context as a handler that sends with ``context.write`` uses it."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    async def write(self, message: bytes) -> None:
        self.written.append(message)


async def test_a_server_stream_that_writes_is_awaited_and_counts_each_write():
    # The shape of grpc.health.v1.Health/Watch: a coroutine, not an async generator.
    async def watch(request: bytes, context: Any) -> None:
        for _ in range(3):
            await context.write(b"w")

    metrics = RpcMetrics()
    context = WritingContext()
    call = wrap(grpc.unary_stream_rpc_method_handler(watch), metrics).unary_stream

    assert await call(b"", context) is None
    assert context.written == [b"w"] * 3
    (snapshot,) = metrics.stats()
    assert (snapshot.started, snapshot.received, snapshot.sent) == (1, 1, 3)
    assert snapshot.handled == (("OK", 1),)


async def test_a_bidi_stream_that_writes_counts_both_directions():
    async def echo(request_iterator: AsyncIterator[bytes], context: Any) -> None:
        async for item in request_iterator:
            await context.write(item)

    metrics = RpcMetrics()
    context = WritingContext()
    call = wrap(grpc.stream_stream_rpc_method_handler(echo), metrics).stream_stream

    assert await call(requests(2), context) is None
    assert context.written == [b"r"] * 2
    (snapshot,) = metrics.stats()
    assert (snapshot.started, snapshot.received, snapshot.sent) == (1, 2, 2)
    assert snapshot.handled == (("OK", 1),)
