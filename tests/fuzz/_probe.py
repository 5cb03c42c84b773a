"""Calling any RPC by its descriptor, and the checks every fuzzed call must pass: no INTERNAL or
UNKNOWN, well-formed error details, stored data unchanged by a failed call, and a server that
still answers afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import sqlite3
from collections.abc import Callable
from typing import Any

import grpc
from agentmail.v1 import agent_service_pb2

# tests/conftest.py (on sys.path as the rootdir conftest): the one checker of error details.
from conftest import OPERATOR_MD, rpc_failure
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from ._strategies import NoStrategy
from ._world import World, method_path

# Generous: a call only runs into it when the server hangs on an input, which is a failure.
CALL_TIMEOUT_SECONDS = 60.0
FORBIDDEN = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
# gRPC's own refusal of a request over the server's receive limit carries no agentmail details.
TRANSPORT_REFUSALS = ("Received message larger than max",)
# Tables whose row counts are reported when a failed call changed the database.
TABLES = ("projects", "agents", "messages", "deliveries", "idempotency_keys")

Serializer = Callable[[Any], bytes] | None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a call ended: its status code, details text and (on error) the error itself."""

    code: grpc.StatusCode
    details: str
    error: grpc.aio.AioRpcError | None


class Snapshots:
    """A read-only connection to the server's SQLite database telling whether anything was
    committed.

    ``PRAGMA data_version`` changes whenever another connection commits, so comparing it before
    and after a call detects any write, inserts and updates alike; the row counts only make a
    failure message readable.
    """

    def __init__(self, database: pathlib.Path) -> None:
        self._conn = sqlite3.connect(
            f"{database.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )

    def _take(self) -> tuple[int, dict[str, int]]:
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        counts = {
            table: self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in TABLES
        }
        return version, counts

    async def take(self) -> tuple[int, dict[str, int]]:
        """The data version and row counts, read off the event loop the server runs on."""
        return await asyncio.to_thread(self._take)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class PostgresSnapshots:
    """The same question asked of a PostgreSQL database, which has no ``data_version``.

    Per table: the row count (inserts and deletes) and the newest ``xmin`` among its rows (an
    insert or an update writes a row version stamped with its transaction's id, and ids only
    grow). A failed call that wrote anything to these tables changes one of them. The database
    is this module's own, so no other test writes to it meanwhile.
    """

    def __init__(self, url: str) -> None:
        import psycopg  # noqa: PLC0415 - only the PostgreSQL runs need the driver

        self._conn = psycopg.connect(url, autocommit=True)
        self._query = " UNION ALL ".join(
            f"SELECT '{table}', count(*), coalesce(max(xmin::text::bigint), 0) FROM {table}"
            for table in TABLES
        )

    def _take(self) -> tuple[int, dict[str, int]]:
        rows = self._conn.execute(self._query).fetchall()
        newest = max(int(row[2]) for row in rows)
        return newest, {str(row[0]): int(row[1]) for row in rows}

    async def take(self) -> tuple[int, dict[str, int]]:
        """The newest row version and row counts, read off the event loop."""
        return await asyncio.to_thread(self._take)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _shape(method: MethodDescriptor) -> str:
    if method.client_streaming:
        raise NoStrategy(f"{method.full_name}: client streaming is not fuzzed yet")
    return "unary_stream" if method.server_streaming else "unary_unary"


def check_supported(method: MethodDescriptor) -> None:
    """Raise NoStrategy when ``method`` has a shape :func:`invoke` cannot call."""
    _shape(method)


async def invoke(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    request: Any,
    metadata: tuple[tuple[str, str], ...],
    *,
    raw: bool = False,
) -> Outcome:
    """Call ``method`` with ``request`` (a message, or bytes sent verbatim when ``raw``).

    A server stream counts as accepted once its first message (an item or a heartbeat) arrives,
    and is then cancelled; the fuzz server sends heartbeats often, so this is a condition to wait
    on, not a guess at a delay.
    """
    response_cls = message_factory.GetMessageClass(method.output_type)
    serializer: Serializer = None if raw else type(request).SerializeToString
    deserializer = None if raw else response_cls.FromString
    path = method_path(method)
    try:
        if _shape(method) == "unary_stream":
            stream = channel.unary_stream(path, serializer, deserializer)(
                request, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS
            )
            try:
                await stream.read()
            finally:
                stream.cancel()
        else:
            await channel.unary_unary(path, serializer, deserializer)(
                request, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS
            )
    except grpc.aio.AioRpcError as error:
        return Outcome(error.code(), error.details() or "", error)
    return Outcome(grpc.StatusCode.OK, "", None)


def check_outcome(method: MethodDescriptor, outcome: Outcome) -> None:
    """Never INTERNAL or UNKNOWN; every agentmail error carries an ErrorInfo (and the details
    its code needs, checked by the shared ``rpc_failure``)."""
    assert outcome.code not in FORBIDDEN, (
        f"{method.full_name} answered {outcome.code.name}: {outcome.details!r}"
    )
    if outcome.error is None:
        return
    if outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED and any(
        text in outcome.details for text in TRANSPORT_REFUSALS
    ):
        return
    assert rpc_status.from_call(outcome.error) is not None, (
        f"{method.full_name} answered {outcome.code.name} without details: {outcome.details!r}"
    )
    rpc_failure(outcome.error)


async def check_alive(channel: grpc.aio.Channel, world: World) -> None:
    """The server still reports SERVING and answers an ordinary call correctly."""
    health = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=""), timeout=CALL_TIMEOUT_SECONDS
    )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    method = agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"].methods_by_name[
        "GetAgent"
    ]
    response = await channel.unary_unary(
        method_path(method),
        agent_service_pb2.GetAgentRequest.SerializeToString,
        agent_service_pb2.GetAgentResponse.FromString,
    )(
        agent_service_pb2.GetAgentRequest(project=world.project, name="alice"),
        metadata=OPERATOR_MD,
        timeout=CALL_TIMEOUT_SECONDS,
    )
    assert response.agent.name == "Alice"


async def probe(
    channel: grpc.aio.Channel,
    snapshots: Snapshots | PostgresSnapshots,
    world: World,
    method: MethodDescriptor,
    request: Any,
    metadata: tuple[tuple[str, str], ...],
    *,
    raw: bool = False,
) -> Outcome:
    """Call once and apply every check; returns the outcome for further properties."""
    before = await snapshots.take()
    outcome = await invoke(channel, method, request, metadata, raw=raw)
    check_outcome(method, outcome)
    if outcome.code != grpc.StatusCode.OK:
        after = await snapshots.take()
        assert after == before, (
            f"{method.full_name} failed with {outcome.code.name} ({outcome.details!r}) "
            f"but changed stored data: {before} -> {after}"
        )
    await check_alive(channel, world)
    return outcome
