"""Raw request bytes for every RPC, sent with no serializer: random bytes, broken encodings and
strings holding invalid UTF-8 (lone surrogates included). Never INTERNAL or UNKNOWN, nothing
stored, and the server still answers afterwards."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from hypothesis import given
from hypothesis import strategies as st

from ._probe import probe
from ._strategies import metadata
from ._wire import raw_requests
from ._world import heal_tokens, methods
from .conftest import Fuzz
from .test_requests import TOKEN_CHANGING

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize("method", methods(), ids=lambda method: method.full_name)
@given(data=st.data())
async def test_raw_request_bytes(fuzz: Fuzz, method: MethodDescriptor, data: st.DataObject) -> None:
    """Bytes the server's parser must turn into a clear error, or a normal answer."""
    valid = fuzz.strategies.message(method.input_type)
    payload = data.draw(raw_requests(method.input_type, valid), label="payload")
    auth = data.draw(metadata(fuzz.world), label="metadata")
    outcome = await probe(
        fuzz.channel, fuzz.snapshots, fuzz.world, method, payload, auth.metadata, raw=True
    )
    if method.name in TOKEN_CHANGING and outcome.code == grpc.StatusCode.OK:
        await heal_tokens(fuzz.channel, fuzz.world)
