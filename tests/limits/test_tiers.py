"""Every RPC the server serves has a rate-limit tier, written down once."""

from __future__ import annotations

import pathlib
from typing import Any

from agentmail_server.limits.tiers import TIER_BY_METHOD, Tier
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


async def _served_methods(server: Any, connect: Any) -> set[str]:
    """Every method of every service the server lists over reflection (health, reflection
    and the ceiling included), as ``/pkg.Service/Method``."""
    from google.protobuf import descriptor_pb2  # noqa: PLC0415

    methods: set[str] = set()
    async with connect(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def ask(request: Any) -> Any:
            async for response in stub.ServerReflectionInfo(iter([request])):
                return response
            raise AssertionError("no reflection answer")

        listing = await ask(reflection_pb2.ServerReflectionRequest(list_services=""))
        names = [s.name for s in listing.list_services_response.service]
        for name in names:
            answer = await ask(reflection_pb2.ServerReflectionRequest(file_containing_symbol=name))
            for raw in answer.file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                for service in proto.service:
                    full = f"{proto.package}.{service.name}" if proto.package else service.name
                    if full == name:
                        methods.update(f"/{full}/{m.name}" for m in service.method)
    return methods


async def test_every_served_method_has_a_tier(
    tmp_path: pathlib.Path, start_server: Any, connect: Any
) -> None:
    async with start_server(tmp_path / "data", ceiling_endpoints=True) as server:
        served = await _served_methods(server, connect)
    assert "/agentmail.v1.MailService/SendMessage" in served
    assert "/grpc.health.v1.Health/Check" in served
    missing = sorted(served - TIER_BY_METHOD.keys())
    assert not missing, f"add these methods to limits/tiers.py TIER_BY_METHOD: {missing}"


def test_the_table_names_no_method_that_is_not_served() -> None:
    from agentmail.v1 import (  # noqa: PLC0415
        agent_service_pb2,
        mail_service_pb2,
        reservation_service_pb2,
        search_service_pb2,
    )

    ours = {
        f"/{service.full_name}/{method.name}"
        for module in (
            agent_service_pb2,
            mail_service_pb2,
            search_service_pb2,
            reservation_service_pb2,
        )
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    listed = {m for m in TIER_BY_METHOD if m.startswith("/agentmail.v1.")}
    assert listed == ours
    assert TIER_BY_METHOD["/agentmail.v1.MailService/SubscribeInbox"] is Tier.STREAM
    assert TIER_BY_METHOD["/agentmail.v1.SearchService/SearchMessages"] is Tier.SEARCH
