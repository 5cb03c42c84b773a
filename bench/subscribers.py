"""The subscriber job: many SubscribeInbox streams in one load-generator process.

Each received item is timed on arrival; items whose subject carries a send time (see
:func:`bench.loadgen.sent_at`) feed a delivery-latency histogram, and per message id the
process remembers how many streams received it and when the first and the last did (fan-out).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import grpc
from agentmail.v1 import mail_service_pb2

from bench.hdr import Histogram
from bench.loadgen import SUBSCRIBE, auth, open_channel, sent_at
from bench.procs import Control


@dataclasses.dataclass
class _Receipts:
    """Per message id: [streams that received it, first receive ns, last receive ns]."""

    by_id: dict[int, list[int]] = dataclasses.field(default_factory=dict)
    delivery: Histogram = dataclasses.field(default_factory=Histogram)
    items: int = 0
    heartbeats: int = 0

    def item(self, message: Any, now: int) -> None:
        self.items += 1
        entry = self.by_id.get(message.id)
        if entry is None:
            self.by_id[message.id] = [1, now, now]
        else:
            entry[0] += 1
            entry[2] = now
        stamped = sent_at(message.subject)
        if stamped is not None:
            self.delivery.record(now - stamped)


@dataclasses.dataclass(frozen=True)
class Subscribers:
    """One SubscribeInbox stream per token, spread over channels of ``per_channel`` streams.

    Reports ``live`` (payload: streams live, seconds it took, failures by status) once every
    stream has sent its first heartbeat or failed.
    Then answers commands: ``reset`` (forget delivery latencies so far), ``report`` (delivery
    histogram of timed items since the last reset, items received, failures), ``wait_ids``
    (payload ``(ids, expected, seconds)``: waits until each id was received by ``expected``
    streams, answers ``ids`` with ``{id: [count, first ns, last ns]}``) and ``stop`` (cancels
    every stream; the result is the final counters).
    """

    address: str
    tokens: tuple[str, ...]
    per_channel: int = 1000
    open_concurrency: int = 100
    live_timeout: float = 300.0

    async def run(self, ctl: Control) -> dict[str, int]:
        state = _Streams(len(self.tokens), self.open_concurrency)
        async with contextlib.AsyncExitStack() as stack:
            calls = []
            for start in range(0, len(self.tokens), self.per_channel):
                channel = await stack.enter_async_context(open_channel(self.address, True))
                call = channel.unary_stream(
                    SUBSCRIBE,
                    response_deserializer=mail_service_pb2.SubscribeInboxResponse.FromString,
                )
                calls.extend([call] * len(self.tokens[start : start + self.per_channel]))
            started = time.perf_counter()
            tasks = [
                asyncio.create_task(state.stream(call, token))
                for call, token in zip(calls, self.tokens, strict=True)
            ]
            try:
                await asyncio.wait_for(state.all_settled.wait(), self.live_timeout)
                ctl.send("live", (state.live, time.perf_counter() - started, dict(state.failures)))
                await _serve(ctl, state)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        receipts = state.receipts
        return {
            "streams": len(self.tokens),
            "items": receipts.items,
            "heartbeats": receipts.heartbeats,
            **{f"failed_{code}": count for code, count in state.failures.items()},
        }


class _Streams:
    """Shared state of one process's subscription streams."""

    def __init__(self, total: int, open_concurrency: int) -> None:
        self.total = total
        self.receipts = _Receipts()
        self.live = 0
        self.settled = 0
        self.all_settled = asyncio.Event()
        self.changed = asyncio.Event()
        self.failures: collections.Counter[str] = collections.Counter()
        # Bounds the streams being opened at once (each costs the server a storage read).
        self.gate = asyncio.Semaphore(open_concurrency)
        self.request = mail_service_pb2.SubscribeInboxRequest().SerializeToString()

    def _settle(self, live: bool) -> None:
        self.gate.release()
        self.live += live
        self.settled += 1
        if self.settled == self.total:
            self.all_settled.set()

    async def stream(self, call: Any, token: str) -> None:
        """Read one stream until cancelled; the first event (a heartbeat) means live."""
        first = True
        await self.gate.acquire()
        try:
            async for response in call(self.request, metadata=auth(token)):
                now = time.perf_counter_ns()
                if response.HasField("item"):
                    self.receipts.item(response.item.message, now)
                    self.changed.set()
                else:
                    self.receipts.heartbeats += 1
                if first:
                    first = False
                    self._settle(True)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.failures[exc.code().name] += 1
        finally:
            if first:
                self._settle(False)

    async def wait_ids(self, ids: Sequence[int], expected: int, seconds: float) -> None:
        """Wait until every id was received by ``expected`` streams, or ``seconds`` pass."""
        by_id = self.receipts.by_id
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if all(by_id.get(i, [0])[0] >= expected for i in ids):
                return
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.monotonic()))


async def _serve(ctl: Control, state: _Streams) -> None:
    """Answer the parent's commands until ``stop``."""
    receipts = state.receipts
    while True:
        tag, payload = await ctl.recv()
        if tag == "stop":
            return
        if tag == "reset":
            receipts.delivery = Histogram()
            ctl.send("reset")
        elif tag == "report":
            ctl.send("report", (receipts.delivery, receipts.items, dict(state.failures)))
        elif tag == "wait_ids":
            ids, expected, seconds = payload
            await state.wait_ids(ids, expected, seconds)
            ctl.send("ids", {i: receipts.by_id.get(i, [0, 0, 0]) for i in ids})
