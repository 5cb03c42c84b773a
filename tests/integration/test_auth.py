"""Bearer-token authentication: which calls need a token and how a bad one is reported."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import types_pb2
from conftest import OPERATOR_MD
from google.protobuf import field_mask_pb2

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED

METHODS = [
    "SendMessage",
    "ReplyMessage",
    "GetMessage",
    "ListInbox",
    "ListOutbox",
    "GetThread",
    "MarkRead",
    "AcknowledgeMessage",
    "SummarizeThread",
]


def valid_request(method: str, message: types_pb2.Message):
    """A request that succeeds for Bob, who received ``message``."""
    return {
        "SendMessage": lambda: mpb.SendMessageRequest(to=["Alice"], subject="s", body="b"),
        "ReplyMessage": lambda: mpb.ReplyMessageRequest(message_id=message.id, body="b"),
        "GetMessage": lambda: mpb.GetMessageRequest(message_id=message.id),
        "ListInbox": mpb.ListInboxRequest,
        "ListOutbox": mpb.ListOutboxRequest,
        "GetThread": lambda: mpb.GetThreadRequest(thread_id=message.thread_id),
        "MarkRead": lambda: mpb.MarkReadRequest(message_ids=[message.id]),
        "AcknowledgeMessage": lambda: mpb.AcknowledgeMessageRequest(message_ids=[message.id]),
        "SummarizeThread": lambda: mpb.SummarizeThreadRequest(thread_id=message.thread_id),
    }[method]()


def answered_as_bob(method: str, response, message: types_pb2.Message) -> bool:
    """Whether ``response`` is what Bob, and only Bob, gets for ``valid_request``: the token
    was not merely accepted but read as Bob's."""
    return {
        "SendMessage": lambda: response.message.sender == "Bob",
        "ReplyMessage": lambda: (
            response.message.sender == "Bob" and response.message.thread_id == message.thread_id
        ),
        "GetMessage": lambda: (
            response.message.id == message.id
            and response.delivery.kind == types_pb2.RECIPIENT_KIND_TO
        ),
        "ListInbox": lambda: [i.message.id for i in response.items] == [message.id],
        "ListOutbox": lambda: list(response.messages) == [],  # Bob has sent nothing
        "GetThread": lambda: [m.id for m in response.messages] == [message.id],
        "MarkRead": lambda: (
            [s.message_id for s in response.states] == [message.id]
            and response.states[0].HasField("read_time")
        ),
        "AcknowledgeMessage": lambda: (
            [s.message_id for s in response.states] == [message.id]
            and response.states[0].HasField("ack_time")
        ),
        "SummarizeThread": lambda: (
            response.message_count == 1 and list(response.participants) == ["Alice", "Bob"]
        ),
    }[method]()


MALFORMED = [
    (("authorization", "Basic dXNlcjpwYXNz"),),
    (("authorization", "am_token-without-scheme"),),
    (("authorization", "Bearer"),),
    (("x-api-key", "am_whatever"),),
]


@pytest.fixture
async def first_message(send, alice, bob):
    """A message from Alice to Bob, so that id-taking calls would succeed with a valid token."""
    return await send(alice, to=[bob.name])


@pytest.mark.parametrize("method", METHODS)
async def test_mail_call_without_token_is_token_missing(mail, first_message, expect_error, method):
    await expect_error(
        getattr(mail, method)(valid_request(method, first_message)),
        UNAUTHENTICATED,
        "TOKEN_MISSING",
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("metadata", MALFORMED, ids=["basic", "no-scheme", "no-token", "other"])
async def test_mail_call_with_malformed_authorization_is_token_missing(
    mail, first_message, expect_error, method, metadata
):
    await expect_error(
        getattr(mail, method)(valid_request(method, first_message), metadata=metadata),
        UNAUTHENTICATED,
        "TOKEN_MISSING",
    )


@pytest.mark.parametrize("method", METHODS)
async def test_mail_call_with_unknown_token_is_token_invalid(
    mail, first_message, bob, md, expect_error, method
):
    await expect_error(
        getattr(mail, method)(valid_request(method, first_message), metadata=md(bob.token + "x")),
        UNAUTHENTICATED,
        "TOKEN_INVALID",
    )


@pytest.mark.parametrize("method", METHODS)
async def test_mail_call_with_valid_token_acts_as_its_agent(mail, first_message, bob, method):
    response = await getattr(mail, method)(valid_request(method, first_message), metadata=bob.md)

    assert answered_as_bob(method, response, first_message), response


def update_request(name: str = "") -> apb.UpdateAgentRequest:
    return apb.UpdateAgentRequest(
        agent=types_pb2.Agent(name=name, program="new"),
        update_mask=field_mask_pb2.FieldMask(paths=["program"]),
    )


async def test_update_agent_without_token_is_token_missing(agents, alice, expect_error):
    await expect_error(
        agents.UpdateAgent(update_request("Alice")), UNAUTHENTICATED, "TOKEN_MISSING"
    )


@pytest.mark.parametrize("metadata", MALFORMED, ids=["basic", "no-scheme", "no-token", "other"])
async def test_update_agent_with_malformed_authorization_is_token_missing(
    agents, alice, expect_error, metadata
):
    await expect_error(
        agents.UpdateAgent(update_request(), metadata=metadata), UNAUTHENTICATED, "TOKEN_MISSING"
    )


async def test_update_agent_with_unknown_token_is_token_invalid(agents, alice, md, expect_error):
    await expect_error(
        agents.UpdateAgent(update_request(), metadata=md("am_" + "0" * 43)),
        UNAUTHENTICATED,
        "TOKEN_INVALID",
    )


async def test_update_agent_authenticates_as_the_token_holder(agents, project, alice, bob):
    response = await agents.UpdateAgent(update_request(), metadata=bob.md)

    assert response.agent.name == "Bob"
    got_bob = await agents.GetAgent(
        apb.GetAgentRequest(project=project, name="Bob"), metadata=OPERATOR_MD
    )
    got_alice = await agents.GetAgent(
        apb.GetAgentRequest(project=project, name="Alice"), metadata=OPERATOR_MD
    )
    assert got_bob.agent.program == "new"
    assert got_alice.agent.program == "pytest"


async def test_first_registration_needs_no_token_and_the_new_token_reads_the_directory(agents, md):
    ensured = await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/anon"))
    slug = ensured.project.slug
    registered = await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Anon"))
    auth = md(registered.agent_token)

    got_project = await agents.GetProject(apb.GetProjectRequest(slug=slug), metadata=auth)
    projects = await agents.ListProjects(apb.ListProjectsRequest(), metadata=auth)
    got_agent = await agents.GetAgent(apb.GetAgentRequest(project=slug, name="Anon"), metadata=auth)
    listed = await agents.ListAgents(apb.ListAgentsRequest(project=slug), metadata=auth)

    assert registered.created
    assert got_project.project == ensured.project
    assert [p.slug for p in projects.projects] == [slug]
    assert got_agent.agent.name == "Anon"
    assert [a.name for a in listed.agents] == ["Anon"]


@pytest.mark.parametrize("call", ["GetProject", "ListProjects", "GetAgent", "ListAgents"])
async def test_directory_reads_without_a_token_are_token_missing(
    agents, project, alice, expect_error, call
):
    requests = {
        "GetProject": apb.GetProjectRequest(slug=project),
        "ListProjects": apb.ListProjectsRequest(),
        "GetAgent": apb.GetAgentRequest(project=project, name="Alice"),
        "ListAgents": apb.ListAgentsRequest(project=project),
    }
    await expect_error(getattr(agents, call)(requests[call]), UNAUTHENTICATED, "TOKEN_MISSING")


async def test_token_identifies_its_own_agent_for_mail(mail, send, alice, bob, carol):
    sent = await send(alice, to=[bob.name])

    bob_inbox = await mail.ListInbox(mpb.ListInboxRequest(), metadata=bob.md)
    carol_inbox = await mail.ListInbox(mpb.ListInboxRequest(), metadata=carol.md)

    assert sent.sender == "Alice"
    assert [i.message.id for i in bob_inbox.items] == [sent.id]
    assert list(carol_inbox.items) == []
