"""Helpers the client tests share: gRPC's own client interceptor hook, recording attempts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc


class CountingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Records each attempt the client puts on the wire (gRPC's own hook, not a mock)."""

    def __init__(self) -> None:
        self.methods: list[str] = []
        self._attempted = asyncio.Condition()

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        self.methods.append(method.decode() if isinstance(method, bytes) else method)
        async with self._attempted:
            self._attempted.notify_all()
        return await continuation(client_call_details, request)

    def count(self, rpc: str) -> int:
        return sum(1 for method in self.methods if method.endswith("/" + rpc))

    async def reached(self, rpc: str, attempts: int) -> None:
        """Returns once ``rpc`` has been attempted ``attempts`` times."""
        async with self._attempted:
            await self._attempted.wait_for(lambda: self.count(rpc) >= attempts)
