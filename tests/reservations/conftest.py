"""Reservation fixtures: a server on a ManualClock (expiry is crossed by moving time, never
by waiting), a ReservationService stub, and helpers to reserve and list."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from agentmail.v1 import mail_service_pb2, reservation_service_pb2, reservation_service_pb2_grpc
from agentmail_server.domain.clock import ManualClock
from conftest import NO_GRACE

START_MICROS = 1_750_000_000_000_000


@pytest.fixture
def clock() -> ManualClock:
    """The server's clock, standing still at a known time until a test advances it."""
    return ManualClock(START_MICROS)


@pytest.fixture
async def server(
    tmp_path: pathlib.Path, clock: ManualClock, start_server: Any, archive_on: bool
) -> AsyncIterator[Any]:
    """A running server reading ``clock``; its sweep runs only when a test calls it (the
    background interval is longer than any test). It stops as the ``server`` fixture's does."""
    async with start_server(
        tmp_path / "data",
        clock=clock,
        reservation_sweep_seconds=3600,
        stop_grace=None if archive_on else NO_GRACE,
    ) as srv:
        yield srv


@pytest.fixture
def res(channel: Any) -> reservation_service_pb2_grpc.ReservationServiceStub:
    """ReservationService stub."""
    return reservation_service_pb2_grpc.ReservationServiceStub(channel)


@pytest.fixture
def reserve(res: Any) -> Callable[..., Awaitable[reservation_service_pb2.ReservePathsResponse]]:
    """``await reserve(agent, paths, **fields)`` -> the ReservePaths response."""

    async def _reserve(agent: Any, paths: list[str], **fields: Any) -> Any:
        return await res.ReservePaths(
            reservation_service_pb2.ReservePathsRequest(paths=paths, **fields),
            metadata=agent.md,
        )

    return _reserve


@pytest.fixture
def listed(res: Any) -> Callable[..., Awaitable[list[Any]]]:
    """``await listed(caller, **filters)`` -> every reservation the listing returns (all pages)."""

    async def _listed(caller: Any, **fields: Any) -> list[Any]:
        found: list[Any] = []
        token = ""
        while True:
            page = await res.ListReservations(
                reservation_service_pb2.ListReservationsRequest(page_token=token, **fields),
                metadata=caller.md,
            )
            found.extend(page.reservations)
            token = page.next_page_token
            if not token:
                return found

    return _listed


@pytest.fixture
def inbox(mail_stub: Any) -> Callable[[Any], Awaitable[list[Any]]]:
    """``await inbox(agent)`` -> the agent's inbox messages, oldest first."""

    async def _inbox(agent: Any) -> list[Any]:
        page = await mail_stub.ListInbox(
            mail_service_pb2.ListInboxRequest(page_size=100), metadata=agent.md
        )
        return [item.message for item in page.items]

    return _inbox
