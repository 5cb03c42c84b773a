"""Inputs that are wrong whatever else the request says are refused with INVALID_ARGUMENT naming
the field: an enum number the contract does not declare, control characters in a subject or an
agent name, and a page token or cursor the server did not issue to this caller.

Each property starts from a request the server accepts (``BASES``), checked first, and changes
one field; an RPC that gains an enum or token field without a base request fails here.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    mail_service_pb2,
    receipts_pb2,
    reservation_service_pb2,
    search_service_pb2,
    types_pb2,
)

# tests/conftest.py: the one checker of error details.
from conftest import rpc_failure
from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from ._probe import invoke, probe
from ._strategies import INT32
from ._world import World, md, methods
from .conftest import Fuzz

pytestmark = pytest.mark.asyncio(loop_scope="module")

_serial = itertools.count()
# A request each RPC accepts from Alice of the seeded world.
BASES: dict[str, Callable[[World], Message]] = {
    "agentmail.v1.AgentService.RegisterAgent": lambda w: agent_service_pb2.RegisterAgentRequest(
        project=w.project, name=f"Zed{next(_serial)}"
    ),
    "agentmail.v1.AgentService.ListProjects": lambda w: agent_service_pb2.ListProjectsRequest(),
    "agentmail.v1.AgentService.ListAgents": lambda w: agent_service_pb2.ListAgentsRequest(
        project=w.project
    ),
    "agentmail.v1.AgentService.SetContactPolicy": lambda w: (
        agent_service_pb2.SetContactPolicyRequest(policy=types_pb2.CONTACT_POLICY_OPEN)
    ),
    "agentmail.v1.AgentService.ListContacts": lambda w: agent_service_pb2.ListContactsRequest(),
    "agentmail.v1.MailService.SendMessage": lambda w: mail_service_pb2.SendMessageRequest(
        to=["Bob"], subject="hello", body="body"
    ),
    "agentmail.v1.MailService.ReplyMessage": lambda w: mail_service_pb2.ReplyMessageRequest(
        message_id=w.message_ids[0], body="body"
    ),
    "agentmail.v1.MailService.ListInbox": lambda w: mail_service_pb2.ListInboxRequest(),
    "agentmail.v1.MailService.ListOutbox": lambda w: mail_service_pb2.ListOutboxRequest(),
    "agentmail.v1.MailService.GetThread": lambda w: mail_service_pb2.GetThreadRequest(
        thread_id=w.thread_ids[0]
    ),
    "agentmail.v1.MailService.SubscribeInbox": lambda w: mail_service_pb2.SubscribeInboxRequest(),
    "agentmail.v1.SearchService.SearchMessages": lambda w: search_service_pb2.SearchMessagesRequest(
        query="schema"
    ),
    "agentmail.v1.MailService.ListPendingAcks": lambda w: receipts_pb2.ListPendingAcksRequest(),
    "agentmail.v1.MailService.ListUnacknowledged": lambda w: (
        receipts_pb2.ListUnacknowledgedRequest()
    ),
    "agentmail.v1.ReservationService.ReservePaths": lambda w: (
        reservation_service_pb2.ReservePathsRequest(paths=[f"fuzz/{next(_serial)}.py"])
    ),
    "agentmail.v1.ReservationService.ListReservations": lambda w: (
        reservation_service_pb2.ListReservationsRequest()
    ),
}
# Single-line text in which a control character can only be a mistake or an attack.
CONTROL_FIELDS = (
    ("agentmail.v1.MailService.SendMessage", "subject"),
    ("agentmail.v1.MailService.ReplyMessage", "subject"),
    ("agentmail.v1.AgentService.RegisterAgent", "name"),
    ("agentmail.v1.ReservationService.ReservePaths", "reason"),
)
# C0 controls and DEL, leaving out tab and the line breaks.
CONTROLS = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
# Listings whose tokens belong to the caller: another agent's token is foreign there.
CALLER_LISTINGS = ("agentmail.v1.MailService.ListInbox", "agentmail.v1.MailService.SubscribeInbox")


def _fields(kind: Callable[[FieldDescriptor], bool]) -> list[tuple[MethodDescriptor, str]]:
    return [
        (method, field.name)
        for method in methods()
        for field in method.input_type.fields
        if kind(field)
    ]


ENUM_FIELDS = _fields(lambda f: f.type == FieldDescriptor.TYPE_ENUM and not f.is_repeated)
TOKEN_FIELDS = _fields(lambda f: f.name.endswith("page_token") or f.name == "cursor")


def _ids(case: tuple[MethodDescriptor, str]) -> str:
    return f"{case[0].full_name}.{case[1]}"


async def _base(fuzz: Fuzz, method: MethodDescriptor) -> Message:
    """The base request of ``method``, after checking the server accepts it as it is."""
    assert method.full_name in BASES, f"{method.full_name} needs a base request in BASES"
    request = BASES[method.full_name](fuzz.world)
    outcome = await invoke(fuzz.channel, method, request, md(fuzz.world.tokens["Alice"]))
    assert outcome.code == grpc.StatusCode.OK, (method.full_name, outcome.details)
    return request


async def _expect_refused(fuzz: Fuzz, method: MethodDescriptor, request: Any, field: str) -> None:
    auth = md(fuzz.world.tokens["Alice"])
    outcome = await probe(fuzz.channel, fuzz.snapshots, fuzz.world, method, request, auth)
    assert outcome.error is not None, (
        f"{method.full_name} accepted {field}={getattr(request, field)!r} in "
        f"{text_format.MessageToString(request, as_one_line=True)}"
    )
    failure = rpc_failure(outcome.error)
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT, failure
    assert field in failure.fields, failure


@pytest.mark.parametrize("case", ENUM_FIELDS, ids=_ids)
@given(data=st.data())
async def test_undeclared_enum_numbers(
    fuzz: Fuzz, case: tuple[MethodDescriptor, str], data: st.DataObject
) -> None:
    """Proto3 enums are open on the wire: a number outside the enum must still be refused."""
    method, field = case
    request = await _base(fuzz, method)
    declared = {value.number for value in method.input_type.fields_by_name[field].enum_type.values}
    number = data.draw(st.integers(*INT32).filter(lambda n: n not in declared), label=field)
    setattr(request, field, number)
    await _expect_refused(fuzz, method, request, field)


@pytest.mark.parametrize("case", CONTROL_FIELDS, ids=lambda case: f"{case[0]}.{case[1]}")
@given(data=st.data())
async def test_control_characters(fuzz: Fuzz, case: tuple[str, str], data: st.DataObject) -> None:
    """A subject or a name holding a control character is refused, wherever it sits."""
    method = next(m for m in methods() if m.full_name == case[0])
    request = await _base(fuzz, method)
    field = case[1]
    text = data.draw(
        st.tuples(st.from_regex(r"\A[A-Za-z]{0,10}\Z"), st.sampled_from(CONTROLS)).map("".join),
        label=field,
    )
    setattr(request, field, "A" + text)
    await _expect_refused(fuzz, method, request, field)


def _forged() -> st.SearchStrategy[str]:
    """Tokens in the shape the server issues today, written by hand."""
    kinds = st.sampled_from(
        ["ia", "id", "ob", "th", "pr", "ag", "sr", "sn", "pa", "pd", "ua", "rv"]
    )
    # Small positions fall inside real listings: the tokens most likely to be taken for real.
    position = st.one_of(st.integers(0, 8), st.integers(0, 2**62))
    positions = st.lists(position.map(str), min_size=1, max_size=2)
    return st.builds(
        lambda kind, values: (
            base64.urlsafe_b64encode(".".join(["1", kind, *values]).encode()).rstrip(b"=").decode()
        ),
        kinds,
        positions,
    )


@pytest.mark.parametrize("case", TOKEN_FIELDS, ids=_ids)
@given(data=st.data())
async def test_forged_page_tokens(
    fuzz: Fuzz, case: tuple[MethodDescriptor, str], data: st.DataObject
) -> None:
    """A token the server never issued is refused, however plausible its shape."""
    method, field = case
    request = await _base(fuzz, method)
    issued = {*fuzz.world.page_tokens, *fuzz.world.foreign_page_tokens}
    token = data.draw(_forged().filter(lambda t: t not in issued), label=field)
    setattr(request, field, token)
    await _expect_refused(fuzz, method, request, field)


@pytest.mark.parametrize(
    "case", [c for c in TOKEN_FIELDS if c[0].full_name in CALLER_LISTINGS], ids=_ids
)
async def test_foreign_inbox_cursors(fuzz: Fuzz, case: tuple[MethodDescriptor, str]) -> None:
    """Bob's inbox cursors, real ones, do not page through Alice's inbox."""
    method, field = case
    request = await _base(fuzz, method)
    inbox = next(m for m in methods() if m.full_name == "agentmail.v1.MailService.ListInbox")
    bobs = await fuzz.channel.unary_unary(
        f"/{inbox.containing_service.full_name}/{inbox.name}",
        mail_service_pb2.ListInboxRequest.SerializeToString,
        mail_service_pb2.ListInboxResponse.FromString,
    )(mail_service_pb2.ListInboxRequest(page_size=1), metadata=md(fuzz.world.tokens["Bob"]))
    for token in (bobs.next_page_token, bobs.items[0].cursor):
        setattr(request, field, token)
        await _expect_refused(fuzz, method, request, field)
