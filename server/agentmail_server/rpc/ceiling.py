"""Ceiling endpoints for benchmarks: an empty unary RPC and a stream of small payloads.

Registered only when the ``ceiling_endpoints`` setting is on. They do no storage or service work
but pass through the same interceptor as the real services, so ``bench`` measures what gRPC and
the interceptor alone cost on this server: the ceiling every benchmark figure is compared to.
Messages are raw bytes (no protobuf), so the client side costs as little as possible too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from grpc import aio

SERVICE_NAME = "agentmail.bench.Ceiling"
UNARY_METHOD = f"/{SERVICE_NAME}/Unary"
STREAM_METHOD = f"/{SERVICE_NAME}/Stream"
# Most payloads one Stream call may ask for, so a typo cannot keep the server busy for hours.
MAX_STREAM_MESSAGES = 10_000_000
STREAM_PAYLOAD = b"x" * 32


async def _unary(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
    return b""


async def _stream(
    request: bytes, context: aio.ServicerContext[bytes, bytes]
) -> AsyncIterator[bytes]:
    try:
        count = int(request.decode("ascii") or "0")
    except (UnicodeDecodeError, ValueError):
        count = -1
    if not 0 <= count <= MAX_STREAM_MESSAGES:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the request must be an ASCII count from 0 to {MAX_STREAM_MESSAGES}",
        )
    for _ in range(count):
        yield STREAM_PAYLOAD


def add_ceiling_to_server(server: aio.Server) -> None:
    """Register ``agentmail.bench.Ceiling`` (methods ``Unary`` and ``Stream``) on ``server``.

    ``Unary`` answers empty bytes to any request. ``Stream`` takes an ASCII count ``n`` and
    yields ``n`` payloads of 32 bytes.
    """
    handler = grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            # No (de)serializers: requests and responses are passed through as bytes.
            "Unary": grpc.unary_unary_rpc_method_handler(_unary),
            "Stream": grpc.unary_stream_rpc_method_handler(_stream),
        },
    )
    server.add_generic_rpc_handlers((handler,))
