"""Every request message of every RPC, with random and extreme field values and valid or
garbage tokens: never INTERNAL or UNKNOWN, nothing stored by a failed call, and the server
still answers afterwards."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hypothesis import given
from hypothesis import strategies as st

from ._probe import probe
from ._strategies import metadata
from ._world import heal_tokens, methods, services
from .conftest import Fuzz

pytestmark = pytest.mark.asyncio(loop_scope="module")

METHODS = methods()
# Calls that may leave an agent of the world without its token: reissued after success.
TOKEN_CHANGING = ("RotateToken", "RevokeTokens")


async def test_every_served_service_is_fuzzed(fuzz: Fuzz) -> None:
    """The server serves (by reflection) no agentmail service these tests do not walk."""
    stub = reflection_pb2_grpc.ServerReflectionStub(fuzz.channel)
    answers = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    served = {
        service.name
        async for answer in answers
        for service in answer.list_services_response.service
    }
    assert {name for name in served if name.startswith("agentmail.v1.")} == {
        service.full_name for service in services()
    }


@pytest.mark.parametrize("method", METHODS, ids=lambda method: method.full_name)
@given(data=st.data())
async def test_fuzzed_request(fuzz: Fuzz, method: MethodDescriptor, data: st.DataObject) -> None:
    """A generated request, authenticated mostly with a valid token."""
    request = data.draw(fuzz.strategies.message(method.input_type), label="request")
    auth = data.draw(metadata(fuzz.world), label="metadata")
    outcome = await probe(fuzz.channel, fuzz.snapshots, fuzz.world, method, request, auth.metadata)
    if method.name in TOKEN_CHANGING and outcome.code == grpc.StatusCode.OK:
        await heal_tokens(fuzz.channel, fuzz.world)
