"""Failures the fuzzer found, kept as fixed examples.

Errors echo caller input (ids, names, slugs) in their message, ErrorInfo metadata and field
violations. Unclipped, a big input pushed the status trailers past gRPC's metadata limit: the
client got RESOURCE_EXHAUSTED whose details said NOT_FOUND (or INVALID_ARGUMENT), at random
between the soft and hard limits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
)
from conftest import OPERATOR_MD

from ._world import md
from .conftest import Fuzz

pytestmark = pytest.mark.asyncio(loop_scope="module")

# What the server promises to keep each part of an error under, in UTF-8 bytes.
MESSAGE_BYTES = 512
METADATA_VALUE_BYTES = 256
VIOLATIONS = 8


def assert_bounded(failure: Any) -> None:
    """The decoded failure's parts stay within the server's bounds."""
    assert len(failure.message.encode()) <= MESSAGE_BYTES, failure.message
    for value in failure.metadata.values():
        assert len(value.encode()) <= METADATA_VALUE_BYTES, value
    assert len(failure.fields) <= VIOLATIONS, failure.fields


async def test_marking_a_thousand_unknown_ids(
    fuzz: Fuzz, expect_error: Callable[..., Awaitable[Any]]
) -> None:
    """Every id is listed as missing: 1,000 nineteen-digit ids overflowed the trailers."""
    mail = mail_service_pb2_grpc.MailServiceStub(fuzz.channel)
    ids = [2**62 + index for index in range(1000)]
    failure = await expect_error(
        mail.MarkRead(
            mail_service_pb2.MarkReadRequest(message_ids=ids),
            metadata=md(fuzz.world.tokens["Alice"]),
        ),
        grpc.StatusCode.NOT_FOUND,
        "MESSAGE_NOT_FOUND",
    )
    assert failure.metadata["messageIds"].startswith(f"{ids[0]},{ids[1]},")
    assert_bounded(failure)


async def test_sending_to_a_thousand_unknown_long_names(
    fuzz: Fuzz, expect_error: Callable[..., Awaitable[Any]]
) -> None:
    """RECIPIENT_NOT_FOUND names the missing recipients, clipped."""
    mail = mail_service_pb2_grpc.MailServiceStub(fuzz.channel)
    names = [f"n{index:04d}" + "x" * 59 for index in range(1000)]
    failure = await expect_error(
        mail.SendMessage(
            mail_service_pb2.SendMessageRequest(to=names, subject="s"),
            metadata=md(fuzz.world.tokens["Alice"]),
        ),
        grpc.StatusCode.NOT_FOUND,
        "RECIPIENT_NOT_FOUND",
    )
    assert failure.metadata["missing"].startswith(f"{names[0]},")
    assert_bounded(failure)


async def test_sending_to_a_thousand_blank_names(
    fuzz: Fuzz, expect_error: Callable[..., Awaitable[Any]]
) -> None:
    """A violation per blank recipient: the first ones are reported."""
    mail = mail_service_pb2_grpc.MailServiceStub(fuzz.channel)
    failure = await expect_error(
        mail.SendMessage(
            mail_service_pb2.SendMessageRequest(to=[" "] * 1000, subject="s"),
            metadata=md(fuzz.world.tokens["Alice"]),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        field="to[0]",
    )
    assert_bounded(failure)


@pytest.mark.parametrize("char", ["x", "é", "😀"])
async def test_getting_a_project_by_a_huge_slug(
    fuzz: Fuzz, expect_error: Callable[..., Awaitable[Any]], char: str
) -> None:
    """The slug is echoed in the message and metadata, clipped on a character boundary."""
    agents = agent_service_pb2_grpc.AgentServiceStub(fuzz.channel)
    failure = await expect_error(
        agents.GetProject(
            agent_service_pb2.GetProjectRequest(slug=char * 1024 * 1024), metadata=OPERATOR_MD
        ),
        grpc.StatusCode.NOT_FOUND,
        "PROJECT_NOT_FOUND",
    )
    assert failure.metadata["project"].startswith(char * 10)
    assert failure.metadata["project"].endswith("…")
    assert_bounded(failure)
