"""Jobs that load generator processes run (see :mod:`bench.procs`).

The client side is kept as cheap as possible so that it takes little of the CPU the server
needs: one channel per process, multicallables that send pre-serialized request bytes and skip
decoding responses that are not read, and the same setup for the ceiling calls and the real
ones. (Measured here: about 290 µs of client CPU per call this way, 330 µs with generated
stubs and 380-420 µs with the typed ``agentmail_client``.)

Latencies are taken with ``time.perf_counter_ns`` (CLOCK_MONOTONIC, shared by all processes on
the machine), so a send time stamped in one process can be compared with a receive time in
another.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from agentmail.v1 import mail_service_pb2, types_pb2

from bench.hdr import Histogram
from bench.procs import Control

MAIL = "/agentmail.v1.MailService/"
SEND = MAIL + "SendMessage"
LIST_INBOX = MAIL + "ListInbox"
MARK_READ = MAIL + "MarkRead"
GET_MESSAGE = MAIL + "GetMessage"
SUBSCRIBE = MAIL + "SubscribeInbox"
CEILING_UNARY = "/agentmail.bench.Ceiling/Unary"
CEILING_STREAM = "/agentmail.bench.Ceiling/Stream"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
CALL_TIMEOUT = 60.0
MAX_MESSAGE = 64 * 1024 * 1024
# Subjects of timed messages: "m <perf_counter_ns at the intended send time> <tag>".
TIMED_PREFIX = "m "
WARM_PREFIX = "w "

Metadata = tuple[tuple[str, str], ...]


def auth(token: str) -> Metadata:
    """Authorization metadata for an agent token."""
    return (("authorization", f"Bearer {token}"),)


@contextlib.asynccontextmanager
async def open_channel(
    address: str, own_connection: bool = False, root_certificates: bytes = b""
) -> AsyncIterator[Any]:
    """A channel to ``address``: TLS trusting ``root_certificates`` when given, else
    plaintext; ``own_connection`` keeps it off the shared subchannel pool.

    The TLS handshake happens here (``channel_ready``), before any call is timed, so
    measured calls pay TLS's per-call cost (record encryption), not the connection's setup.
    """
    options: list[tuple[str, int]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.max_receive_message_length", MAX_MESSAGE),
    ]
    if own_connection:
        options.append(("grpc.use_local_subchannel_pool", 1))
    if root_certificates:
        credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
        channel = grpc.aio.secure_channel(address, credentials, options=options)
    else:
        channel = grpc.aio.insecure_channel(address, options=options)
    try:
        await asyncio.wait_for(channel.channel_ready(), 30)
        yield channel
    finally:
        await channel.close()


@dataclasses.dataclass
class LoadResult:
    """What one measured phase produced."""

    hist: Histogram
    ok: int
    seconds: float
    errors: dict[str, int]
    client_cpu_seconds: float
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Successful calls (or messages) per second."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def error_key(exc: grpc.aio.AioRpcError) -> str:
    """How a failed call is counted: its status code and the start of its details."""
    details = (exc.details() or "").strip()
    return f"{exc.code().name}: {details[:80]}" if details else exc.code().name


def sent_at(subject: str) -> int | None:
    """The intended send time stamped in a timed subject, or None."""
    if not subject.startswith(TIMED_PREFIX):
        return None
    try:
        return int(subject.split(" ", 2)[1])
    except (IndexError, ValueError):
        return None


@dataclasses.dataclass(frozen=True)
class ClosedLoop:
    """``concurrency`` workers each issuing one unary call after another.

    A warm-up of ``warmup`` calls runs first; then the job reports ``warm`` and waits for the
    parent's ``go`` (the parent snapshots server CPU and metrics in between) and measures
    ``count`` calls, stopping early after ``max_seconds``. Call ``k`` sends ``requests[k %
    len]``; worker ``i`` uses the metadata of ``tokens[i % len]`` (none without tokens).
    With ``root_certificates`` the channel is TLS, trusting that CA.
    """

    address: str
    method: str
    requests: tuple[bytes, ...]
    tokens: tuple[str, ...]
    concurrency: int
    warmup: int
    count: int
    max_seconds: float
    root_certificates: bytes = b""

    async def run(self, ctl: Control) -> LoadResult:
        async with open_channel(self.address, root_certificates=self.root_certificates) as channel:
            call = channel.unary_unary(self.method)
            await self._phase(call, self.warmup, self.max_seconds, Histogram())
            ctl.send("warm")
            await ctl.expect("go")
            hist = Histogram()
            return await self._phase(call, self.count, self.max_seconds, hist)

    async def _phase(
        self, call: Any, count: int, max_seconds: float, hist: Histogram
    ) -> LoadResult:
        issued = 0
        errors: collections.Counter[str] = collections.Counter()
        deadline = time.monotonic() + max_seconds
        metadata = [auth(token) for token in self.tokens] or [None]

        async def worker(i: int) -> None:
            nonlocal issued
            requests = self.requests
            md = metadata[i % len(metadata)]
            while issued < count and time.monotonic() < deadline:
                request = requests[issued % len(requests)]
                issued += 1
                started = time.perf_counter_ns()
                try:
                    await call(request, metadata=md, timeout=CALL_TIMEOUT)
                except grpc.aio.AioRpcError as exc:
                    errors[error_key(exc)] += 1
                    continue
                hist.record(time.perf_counter_ns() - started)

        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(max(1, min(self.concurrency, count)))))
        seconds = time.perf_counter() - started
        return LoadResult(hist, hist.count, seconds, dict(errors), time.process_time() - cpu)


@dataclasses.dataclass(frozen=True)
class OpenLoop:
    """Calls started at a fixed offered rate, each as its own task (no coordinated omission).

    Latency runs from each call's *intended* start time, so a server that falls behind shows
    it. With ``recipient`` set, each call is a SendMessage to it whose subject carries the
    intended time (subscribers compute delivery latency from it); otherwise ``request`` is
    sent to ``method`` as is. ``warmup_seconds`` at the same rate come first (subjects marked
    as warm-up), then ``warm``/``go`` as in :class:`ClosedLoop`, then ``seconds`` measured.
    At most ``max_outstanding`` calls are in flight; calls that would exceed it are skipped
    and counted as ``late``.
    """

    address: str
    method: str
    request: bytes
    token: str
    recipient: str
    body: str
    rate: float
    seconds: float
    warmup_seconds: float
    max_outstanding: int = 2000

    async def run(self, ctl: Control) -> LoadResult:
        async with open_channel(self.address) as channel:
            call = channel.unary_unary(self.method)
            await self._phase(call, self.warmup_seconds, Histogram(), WARM_PREFIX)
            ctl.send("warm")
            await ctl.expect("go")
            return await self._phase(call, self.seconds, Histogram(), TIMED_PREFIX)

    async def _phase(self, call: Any, seconds: float, hist: Histogram, prefix: str) -> LoadResult:
        md = auth(self.token) if self.token else None
        errors: collections.Counter[str] = collections.Counter()
        gate = asyncio.Semaphore(self.max_outstanding)
        tasks: set[asyncio.Task[None]] = set()
        late = 0

        async def one(intended: int) -> None:
            if self.recipient:
                subject = f"{prefix}{intended}"
                request = mail_service_pb2.SendMessageRequest(
                    to=[self.recipient], subject=subject, body=self.body
                ).SerializeToString()
            else:
                request = self.request
            try:
                await call(request, metadata=md, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                errors[error_key(exc)] += 1
                return
            finally:
                gate.release()
            hist.record(time.perf_counter_ns() - intended)

        total = max(1, int(self.rate * seconds))
        interval = 1e9 / self.rate
        cpu = time.process_time()
        begin = time.perf_counter_ns()
        for i in range(total):
            intended = begin + int(i * interval)
            delay = (intended - time.perf_counter_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            if gate.locked():
                late += 1
                continue
            await gate.acquire()
            task = asyncio.create_task(one(intended))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=CALL_TIMEOUT)
        elapsed = (time.perf_counter_ns() - begin) / 1e9
        result = LoadResult(hist, hist.count, elapsed, dict(errors), time.process_time() - cpu)
        result.extra = {"offered_rate": self.rate, "late": late, "intended_calls": total}
        return result


@dataclasses.dataclass(frozen=True)
class StreamCeiling:
    """Server-streaming ceiling: ``calls`` sequential Stream calls of ``messages`` payloads.

    The histogram holds the gap between consecutive payloads (per-message cost); throughput
    is payloads per second over the measured calls. TLS with ``root_certificates``.
    """

    address: str
    messages: int
    calls: int
    warmup_messages: int
    root_certificates: bytes = b""

    async def run(self, ctl: Control) -> LoadResult:
        async with open_channel(self.address, root_certificates=self.root_certificates) as channel:
            call = channel.unary_stream(CEILING_STREAM)
            async for _ in call(str(self.warmup_messages).encode(), timeout=CALL_TIMEOUT):
                pass
            ctl.send("warm")
            await ctl.expect("go")
            hist = Histogram()
            received = 0
            cpu = time.process_time()
            started = time.perf_counter()
            for _ in range(self.calls):
                last = time.perf_counter_ns()
                async for _payload in call(str(self.messages).encode(), timeout=CALL_TIMEOUT):
                    now = time.perf_counter_ns()
                    hist.record(now - last)
                    last = now
                    received += 1
            seconds = time.perf_counter() - started
            return LoadResult(hist, received, seconds, {}, time.process_time() - cpu)


@dataclasses.dataclass(frozen=True)
class Sender:
    """Sends one message per ``send`` command (payload: request bytes and a token) and
    answers ``sent`` with ``(message id, started ns, finished ns)``, until ``stop``."""

    address: str

    async def run(self, ctl: Control) -> int:
        sent = 0
        async with open_channel(self.address) as channel:
            call = channel.unary_unary(
                SEND, response_deserializer=mail_service_pb2.SendMessageResponse.FromString
            )
            ctl.send("ready")
            while True:
                tag, payload = await ctl.recv()
                if tag == "stop":
                    return sent
                request, token = payload
                started = time.perf_counter_ns()
                response = await call(request, metadata=auth(token), timeout=CALL_TIMEOUT)
                ctl.send("sent", (int(response.message.id), started, time.perf_counter_ns()))
                sent += 1


@dataclasses.dataclass(frozen=True)
class MixedAgents:
    """Simulated agents, each a closed loop of sends, inbox reads, marks and gets.

    Agent ``i`` holds ``agents[i]`` = (name, token) and picks operations by ``weights``
    (``send``, ``list_inbox``, ``mark_read``, ``get_message``) with a seeded random
    generator; a send goes to one random peer (one in five to three peers) with a timed
    subject, so subscribers measure delivery latency. Warm-up, ``warm``/``go``, then
    ``seconds`` measured.
    """

    address: str
    agents: tuple[tuple[str, str], ...]
    weights: tuple[tuple[str, float], ...]
    body: str
    seconds: float
    warmup_seconds: float
    seed: int = 5

    async def run(self, ctl: Control) -> dict[str, LoadResult]:
        async with open_channel(self.address) as channel:
            pb = mail_service_pb2
            calls = {
                "send": channel.unary_unary(SEND),
                "list_inbox": channel.unary_unary(
                    LIST_INBOX, response_deserializer=pb.ListInboxResponse.FromString
                ),
                "mark_read": channel.unary_unary(MARK_READ),
                "get_message": channel.unary_unary(GET_MESSAGE),
            }
            await self._phase(calls, self.warmup_seconds, WARM_PREFIX)
            ctl.send("warm")
            await ctl.expect("go")
            return await self._phase(calls, self.seconds, TIMED_PREFIX)

    async def _phase(
        self, calls: dict[str, Any], seconds: float, prefix: str
    ) -> dict[str, LoadResult]:
        pb = mail_service_pb2
        hists = {op: Histogram() for op, _ in self.weights}
        errors: dict[str, collections.Counter[str]] = {op: collections.Counter() for op in hists}
        names = [name for name, _ in self.agents]
        ops = [op for op, _ in self.weights]
        weights = [weight for _, weight in self.weights]
        deadline = time.monotonic() + seconds

        async def agent(index: int) -> None:
            rng = random.Random(self.seed * 100_003 + index)
            name, token = self.agents[index]
            md = auth(token)
            peers = [peer for peer in names if peer != name]
            unread: list[int] = []
            while time.monotonic() < deadline:
                op = rng.choices(ops, weights)[0]
                if op in ("mark_read", "get_message") and not unread:
                    op = "list_inbox"
                started = time.perf_counter_ns()
                if op == "send":
                    to = rng.sample(peers, 3 if rng.random() < 0.2 else 1)
                    request = pb.SendMessageRequest(
                        to=to, subject=f"{prefix}{started} {name}", body=self.body
                    ).SerializeToString()
                elif op == "list_inbox":
                    request = pb.ListInboxRequest(
                        page_size=50, unread_only=True, view=types_pb2.MESSAGE_VIEW_ENVELOPE
                    ).SerializeToString()
                elif op == "mark_read":
                    request = pb.MarkReadRequest(message_ids=unread[:50]).SerializeToString()
                    del unread[:50]
                else:
                    message_id = rng.choice(unread)
                    request = pb.GetMessageRequest(message_id=message_id).SerializeToString()
                try:
                    response = await calls[op](request, metadata=md, timeout=CALL_TIMEOUT)
                except grpc.aio.AioRpcError as exc:
                    errors[op][error_key(exc)] += 1
                    continue
                hists[op].record(time.perf_counter_ns() - started)
                if op == "list_inbox":
                    unread = [item.message.id for item in response.items]

        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(agent(i) for i in range(len(self.agents))))
        elapsed = time.perf_counter() - started
        cpu_used = time.process_time() - cpu
        return {
            op: LoadResult(hist, hist.count, elapsed, dict(errors[op]), cpu_used)
            for op, hist in hists.items()
        }
