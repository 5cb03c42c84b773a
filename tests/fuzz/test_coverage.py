"""The fuzz covers the whole contract: every service of ``agentmail.v1`` is walked, and every RPC
can be called and has a strategy for each field of its request (a new one fails here until the
strategies learn it)."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import MethodDescriptor

from ._probe import check_supported
from ._strategies import RequestStrategies
from ._world import World, methods, services

# Enough of a world to build strategies without a server.
PLACEHOLDER_WORLD = World("p", "q", {"A": "t"}, "O", "u", [1], ["1"], ["x"], ["y"])


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
