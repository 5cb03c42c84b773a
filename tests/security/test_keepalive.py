"""Keepalive chosen together on both ends: the server pings idle connections and drops dead
peers within about 80 s, accepts the typed client's pings, and refuses a client that pings far
more often than that (``GOAWAY too_many_pings``).

gRPC ignores channel arguments it does not know, so besides checking the options the policy is
run for real, with every interval divided by ``SCALE`` so that minutes become seconds: an idle
subscription outlives more client pings than the server's strike limit allows, while a client
pinging three times too often loses its connection within seconds. (gRPC's client sends
keepalive pings at most once a second, whatever it is told: measured with grpcio 1.85, so
the scaled intervals stay above a second.)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail_client import ChannelConfig
from agentmail_server.app import AgentmailServer
from agentmail_server.config import ServerConfig
from agentmail_server.rpc.keepalive import ServerKeepalive
from agentmail_server.rpc.server import channel_options

# Production intervals are divided by this in the end-to-end tests (60 s -> 3 s).
SCALE = 20
SERVER = ServerKeepalive()
CLIENT = ChannelConfig()
# How long the idle subscription is held: max_ping_strikes + 1 scaled client pings, after
# which a client pinging too often is cut off, and then some.
IDLE_SECONDS = (SERVER.max_ping_strikes + 1.5) * CLIENT.keepalive_time_ms / SCALE / 1000


def scaled_server() -> ServerKeepalive:
    return ServerKeepalive(
        time_ms=SERVER.time_ms // SCALE,
        timeout_ms=SERVER.timeout_ms // SCALE,
        min_ping_interval_ms=SERVER.min_ping_interval_ms // SCALE,
        max_ping_strikes=SERVER.max_ping_strikes,
    )


def scaled_client(divisor: int = SCALE) -> ChannelConfig:
    return dataclasses.replace(
        CLIENT,
        keepalive_time_ms=CLIENT.keepalive_time_ms // divisor,
        keepalive_timeout_ms=CLIENT.keepalive_timeout_ms // divisor,
    )


def test_the_server_options_carry_the_policy() -> None:
    options = dict(channel_options(ServerConfig()))

    assert options["grpc.keepalive_time_ms"] == 60_000
    assert options["grpc.keepalive_timeout_ms"] == 20_000
    assert options["grpc.http2.ping_timeout_ms"] == 20_000
    assert options["grpc.keepalive_permit_without_calls"] == 1
    assert options["grpc.http2.max_pings_without_data"] == 0
    assert options["grpc.http2.min_ping_interval_without_data_ms"] == 30_000
    assert options["grpc.http2.max_ping_strikes"] == 2


def test_the_typed_client_pings_every_minute_even_when_idle() -> None:
    options = dict(CLIENT.options())

    assert options["grpc.keepalive_time_ms"] == 60_000
    assert options["grpc.keepalive_timeout_ms"] == 20_000
    assert options["grpc.http2.ping_timeout_ms"] == 20_000
    assert options["grpc.keepalive_permit_without_calls"] == 1
    # gRPC's default (2) stops pinging a connection that only receives, as a subscriber's does.
    assert options["grpc.http2.max_pings_without_data"] == 0


def test_the_policies_fit_together() -> None:
    # The server accepts the client's pings with room to spare for timer slack...
    assert 2 * SERVER.min_ping_interval_ms <= CLIENT.keepalive_time_ms
    # ...and a dead subscriber is dropped within a minute and a half.
    assert SERVER.dead_peer_seconds <= 90


@contextlib.asynccontextmanager
async def idle_subscription(
    tmp_path: pathlib.Path, client: ChannelConfig
) -> AsyncIterator[tuple[grpc.aio.UnaryStreamCall[mpb.SubscribeInboxRequest, object], object]]:
    """A server with the scaled policy and no heartbeats (so nothing but pings crosses an
    idle stream), and a live SubscribeInbox on a channel with ``client``'s options; yields
    the call and a coroutine function that sends the subscriber one message."""
    config = ServerConfig(
        listen="127.0.0.1:0", data_dir=tmp_path / "data", archive=False, heartbeat_seconds=3600
    )
    server = AgentmailServer(config, keepalive=scaled_server())
    await server.start()
    try:
        async with grpc.aio.insecure_channel(server.address, options=client.options()) as channel:
            agents = agent_service_pb2_grpc.AgentServiceStub(channel)
            mail = mail_service_pb2_grpc.MailServiceStub(channel)
            slug = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/k"))).project
            token = (
                await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug.slug, name="Sub"))
            ).agent_token
            call = mail.SubscribeInbox(
                mpb.SubscribeInboxRequest(), metadata=(("authorization", f"Bearer {token}"),)
            )
            first = await asyncio.wait_for(call.read(), 10)
            assert first.HasField("heartbeat"), first  # caught up: live from here on

            async def send_one() -> None:
                # On a channel of its own: traffic on the subscriber's would reset its pings.
                async with grpc.aio.insecure_channel(server.address) as other:
                    await mail_service_pb2_grpc.MailServiceStub(other).SendMessage(
                        mpb.SendMessageRequest(to=["Sub"], subject="still there?"),
                        metadata=(("authorization", f"Bearer {token}"),),
                        timeout=10,
                    )

            try:
                yield call, send_one
            finally:
                call.cancel()
    finally:
        await server.stop()


@pytest.mark.slow
async def test_an_idle_subscription_outlives_the_typed_clients_pings(
    tmp_path: pathlib.Path,
) -> None:
    async with idle_subscription(tmp_path, scaled_client()) as (call, send_one):
        with pytest.raises(TimeoutError):
            # Nothing arrives, and nothing ends the stream.
            await asyncio.wait_for(
                asyncio.shield(read := asyncio.ensure_future(call.read())), IDLE_SECONDS
            )
        await send_one()
        delivered = await asyncio.wait_for(read, 10)

    assert delivered.item.message.subject == "still there?"


@pytest.mark.slow
async def test_a_client_pinging_three_times_too_often_is_cut_off(
    tmp_path: pathlib.Path,
) -> None:
    async with idle_subscription(tmp_path, scaled_client(SCALE * 3)) as (call, _):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(call.read(), IDLE_SECONDS)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "too many pings" in (caught.value.details() or "").lower()


class BlackholeProxy:
    """A TCP proxy to ``upstream`` that can stop forwarding in both directions while keeping
    every socket open: to each end, the other has gone silent, like a host that lost power
    or a NAT that forgot the connection."""

    def __init__(self, upstream: str) -> None:
        self._host, _, port = upstream.rpartition(":")
        self._port = int(port)
        self.frozen = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._listener: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._listener = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"127.0.0.1:{self._listener.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._listener is not None
        self._listener.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        await self._listener.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        self._writers += [writer, up_writer]
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            if self.frozen.is_set():
                await asyncio.Event().wait()  # hold the socket open, forward nothing more
            sink.write(data)
            await sink.drain()


async def seconds_until(condition: Callable[[], bool], within: float) -> float:
    """Poll a server-side condition (it has no client-visible event) every 50 ms; the seconds
    it took to hold, failing after ``within``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        assert loop.time() - started < within, f"not within {within:.1f} s"
        await asyncio.sleep(0.05)
    return loop.time() - started


@pytest.mark.slow
async def test_a_silent_subscriber_is_dropped_within_the_keepalive_bound(
    tmp_path: pathlib.Path,
) -> None:
    policy = scaled_server()
    config = ServerConfig(
        listen="127.0.0.1:0", data_dir=tmp_path / "data", archive=False, heartbeat_seconds=3600
    )
    server = AgentmailServer(config, keepalive=policy)
    await server.start()
    proxy = BlackholeProxy(server.address)
    try:
        async with proxy as proxied:
            async with grpc.aio.insecure_channel(server.address) as direct:
                agents = agent_service_pb2_grpc.AgentServiceStub(direct)
                request = apb.EnsureProjectRequest(human_key="/d")
                slug = (await agents.EnsureProject(request)).project.slug
                registration = apb.RegisterAgentRequest(project=slug, name="Gone")
                token = (await agents.RegisterAgent(registration)).agent_token
            async with grpc.aio.insecure_channel(proxied) as channel:
                call = mail_service_pb2_grpc.MailServiceStub(channel).SubscribeInbox(
                    mpb.SubscribeInboxRequest(), metadata=(("authorization", f"Bearer {token}"),)
                )
                assert (await asyncio.wait_for(call.read(), 10)).HasField("heartbeat")
                assert server.hub.stats().subscriptions == 1
                # From now on nothing crosses the proxy: the subscriber's host is gone.
                proxy.frozen.set()
                dropped_after = await seconds_until(
                    lambda: server.hub.stats().subscriptions == 0,
                    # The server's ping interval plus its ack timeout, and scheduling slack.
                    within=policy.dead_peer_seconds + 5.0,
                )
                call.cancel()
    finally:
        await server.stop()

    # Not before the server had pinged and waited for the acknowledgement.
    assert dropped_after >= policy.timeout_ms / 1000, dropped_after


@pytest.mark.slow
async def test_the_typed_clients_channel_notices_a_silent_server(tmp_path: pathlib.Path) -> None:
    client = scaled_client()
    config = ServerConfig(
        listen="127.0.0.1:0", data_dir=tmp_path / "data", archive=False, heartbeat_seconds=3600
    )
    server = AgentmailServer(config, keepalive=scaled_server())
    await server.start()
    proxy = BlackholeProxy(server.address)
    try:
        async with (
            proxy as proxied,
            grpc.aio.insecure_channel(proxied, options=client.options()) as channel,
        ):
            agents = agent_service_pb2_grpc.AgentServiceStub(channel)
            slug = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/s"))).project
            registration = apb.RegisterAgentRequest(project=slug.slug, name="Left")
            token = (await agents.RegisterAgent(registration)).agent_token
            call = mail_service_pb2_grpc.MailServiceStub(channel).SubscribeInbox(
                mpb.SubscribeInboxRequest(), metadata=(("authorization", f"Bearer {token}"),)
            )
            assert (await asyncio.wait_for(call.read(), 10)).HasField("heartbeat")
            proxy.frozen.set()
            started = asyncio.get_running_loop().time()
            # The client's ping interval plus its ack timeout, and scheduling slack.
            bound = (client.keepalive_time_ms + client.keepalive_timeout_ms) / 1000 + 5.0
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await asyncio.wait_for(call.read(), bound)
            noticed_after = asyncio.get_running_loop().time() - started
    finally:
        await server.stop()

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert noticed_after >= client.keepalive_timeout_ms / 1000, noticed_after
