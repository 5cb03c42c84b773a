"""Reading a holder's SubscribeInbox stream in reservation tests: wait until it is live,
then take its coordination events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from agentmail.v1 import events_pb2
from agentmail.v1 import mail_service_pb2 as mail_pb

READ_TIMEOUT = 20.0


class Stream:
    """One SubscribeInbox call: waits for the first heartbeat (live), then reads events."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.tail_cursor = ""

    async def next(self) -> mail_pb.SubscribeInboxResponse:
        async with asyncio.timeout(READ_TIMEOUT):
            event = await self.call.read()
        assert event is not grpc.aio.EOF
        if event.HasField("heartbeat"):
            self.tail_cursor = event.heartbeat.tail_cursor
        return event

    async def until_live(self) -> list[events_pb2.AgentEvent]:
        """The backlog's coordination events, up to the first heartbeat."""
        backlog = []
        while not (event := await self.next()).HasField("heartbeat"):
            if event.HasField("agent_event"):
                backlog.append(event.agent_event)
        return backlog

    async def reservation_event(self) -> events_pb2.ReservationEvent:
        while True:
            event = await self.next()
            if event.HasField("agent_event"):
                assert event.agent_event.WhichOneof("detail") == "reservation", event
                return event.agent_event.reservation


@contextlib.asynccontextmanager
async def subscribed(mail_stub: Any, agent: Any, cursor: str = "") -> AsyncIterator[Stream]:
    """``agent``'s SubscribeInbox stream from ``cursor`` (the start when empty), cancelled on
    exit."""
    call = mail_stub.SubscribeInbox(mail_pb.SubscribeInboxRequest(cursor=cursor), metadata=agent.md)
    try:
        yield Stream(call)
    finally:
        call.cancel()
