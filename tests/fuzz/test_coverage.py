"""The fuzz covers the whole contract: every service of ``agentmail.v1`` is walked, and every RPC
can be called and has a strategy for each field of its request (a new one fails here until the
strategies learn it)."""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2
from google.protobuf.descriptor import MethodDescriptor
from grpc_reflection.v1alpha import reflection_pb2

from ._probe import check_supported
from ._strategies import NoStrategy, RequestStrategies
from ._world import World, methods, services

# Enough of a world to build strategies without a server.
PLACEHOLDER_WORLD = World("p", "q", {"A": "t"}, "O", "u", [1], ["1"], [2], ["x"], ["y"])


def test_every_service_of_the_package_is_walked() -> None:
    """The walk finds the three services, so a missing module cannot empty the fuzz silently."""
    names = {service.full_name for service in services()}
    assert {
        "agentmail.v1.AgentService",
        "agentmail.v1.MailService",
        "agentmail.v1.SearchService",
    } <= names


@pytest.mark.parametrize("method", methods(), ids=lambda method: method.full_name)
def test_every_rpc_has_a_strategy(method: MethodDescriptor) -> None:
    """Each RPC's shape can be called and each field of its request has a strategy (building
    one raises NoStrategy otherwise), so a new RPC or field is fuzzed or fails here."""
    check_supported(method)
    RequestStrategies(PLACEHOLDER_WORLD).message(method.input_type)


def test_a_field_without_a_strategy_fails_loudly() -> None:
    """A map field (here google.protobuf.Struct's) has no strategy yet: building one raises,
    which is what makes the test above fail for a new RPC using one."""
    with pytest.raises(NoStrategy, match="map field"):
        RequestStrategies(PLACEHOLDER_WORLD).message(struct_pb2.Struct.DESCRIPTOR)


def test_a_shape_that_cannot_be_called_fails_loudly() -> None:
    """A client-streaming RPC (here reflection's) is not called by these tests yet."""
    service = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]
    with pytest.raises(NoStrategy, match="client streaming"):
        check_supported(service.methods_by_name["ServerReflectionInfo"])
