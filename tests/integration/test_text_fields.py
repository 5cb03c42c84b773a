"""Which characters each text field takes. Single-line fields (subjects, topics, thread ids,
idempotency keys, agent names, project human keys, program, model) reject every control
character and the Unicode line and paragraph separators; task descriptions may break lines
and indent; bodies are free text. Each rejection is INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import search_service_pb2 as spb
from agentmail.v1 import search_service_pb2_grpc, types_pb2
from google.protobuf import field_mask_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
# Newline, carriage return, tab, NUL, ESC, DEL, NEL (a C1 control), LINE and PARAGRAPH SEPARATOR.
FORBIDDEN = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]


class Calls:
    """The stubs and agents a case needs, and a message to reply to."""

    def __init__(self, channel: grpc.aio.Channel, agents: Any, mail: Any, team: Any) -> None:
        self.agents = agents
        self.mail = mail
        self.search = search_service_pb2_grpc.SearchServiceStub(channel)
        self.team = team
        self.original_id = 0

    async def first_item(self, request: mpb.SubscribeInboxRequest) -> Any:
        stream = self.mail.SubscribeInbox(request, metadata=self.team["Bob"].md)
        try:
            return await stream.read()
        finally:
            stream.cancel()


Case = Callable[[Calls, str], Awaitable[Any]]


def _alice(calls: Calls) -> Any:
    return calls.team["Alice"].md


CASES: dict[tuple[str, str, str], Case] = {
    # (rpc, field, reason): call with the field set to a value holding the character.
    ("EnsureProject", "human_key", "CONTROL_CHARACTER"): lambda c, v: c.agents.EnsureProject(
        apb.EnsureProjectRequest(human_key=f"/repos/x{v}y")
    ),
    ("RegisterAgent", "name", "INVALID_AGENT_NAME"): lambda c, v: c.agents.RegisterAgent(
        apb.RegisterAgentRequest(project=c.team["Alice"].project, name=f"Zed{v}")
    ),
    ("RegisterAgent", "program", "CONTROL_CHARACTER"): lambda c, v: c.agents.RegisterAgent(
        apb.RegisterAgentRequest(project=c.team["Alice"].project, name="Zed", program=f"p{v}")
    ),
    ("RegisterAgent", "model", "CONTROL_CHARACTER"): lambda c, v: c.agents.RegisterAgent(
        apb.RegisterAgentRequest(project=c.team["Alice"].project, name="Zed", model=f"m{v}")
    ),
    ("UpdateAgent", "program", "CONTROL_CHARACTER"): lambda c, v: c.agents.UpdateAgent(
        apb.UpdateAgentRequest(
            agent=types_pb2.Agent(program=f"p{v}"),
            update_mask=field_mask_pb2.FieldMask(paths=["program"]),
        ),
        metadata=_alice(c),
    ),
    ("UpdateAgent", "model", "CONTROL_CHARACTER"): lambda c, v: c.agents.UpdateAgent(
        apb.UpdateAgentRequest(
            agent=types_pb2.Agent(model=f"m{v}"),
            update_mask=field_mask_pb2.FieldMask(paths=["model"]),
        ),
        metadata=_alice(c),
    ),
    ("SendMessage", "subject", "CONTROL_CHARACTER"): lambda c, v: c.mail.SendMessage(
        mpb.SendMessageRequest(to=["Bob"], subject=f"sub{v}ject"), metadata=_alice(c)
    ),
    ("SendMessage", "topic", "CONTROL_CHARACTER"): lambda c, v: c.mail.SendMessage(
        mpb.SendMessageRequest(to=["Bob"], subject="s", topic=f"t{v}"), metadata=_alice(c)
    ),
    ("SendMessage", "thread_id", "CONTROL_CHARACTER"): lambda c, v: c.mail.SendMessage(
        mpb.SendMessageRequest(to=["Bob"], subject="s", thread_id=f"T{v}"), metadata=_alice(c)
    ),
    ("SendMessage", "idempotency_key", "CONTROL_CHARACTER"): lambda c, v: c.mail.SendMessage(
        mpb.SendMessageRequest(to=["Bob"], subject="s", idempotency_key=f"k{v}"),
        metadata=_alice(c),
    ),
    # A trailing newline used to be stripped and the message delivered to Bob.
    ("SendMessage", "to[0]", "INVALID_ARGUMENT"): lambda c, v: c.mail.SendMessage(
        mpb.SendMessageRequest(to=[f"Bob{v}"], subject="s"), metadata=_alice(c)
    ),
    ("SendMessage", "cc[0]", "INVALID_ARGUMENT"): lambda c, v: c.mail.SendMessage(
        mpb.SendMessageRequest(to=["Bob"], cc=[f"Car{v}ol"], subject="s"), metadata=_alice(c)
    ),
    ("ReplyMessage", "subject", "CONTROL_CHARACTER"): lambda c, v: c.mail.ReplyMessage(
        mpb.ReplyMessageRequest(message_id=c.original_id, subject=f"Re{v}"), metadata=_alice(c)
    ),
    ("ListInbox", "topic", "CONTROL_CHARACTER"): lambda c, v: c.mail.ListInbox(
        mpb.ListInboxRequest(topic=f"t{v}"), metadata=_alice(c)
    ),
    ("ListInbox", "thread_id", "CONTROL_CHARACTER"): lambda c, v: c.mail.ListInbox(
        mpb.ListInboxRequest(thread_id=f"T{v}"), metadata=_alice(c)
    ),
    ("GetThread", "thread_id", "CONTROL_CHARACTER"): lambda c, v: c.mail.GetThread(
        mpb.GetThreadRequest(thread_id=f"T{v}"), metadata=_alice(c)
    ),
    ("SummarizeThread", "thread_id", "CONTROL_CHARACTER"): lambda c, v: c.mail.SummarizeThread(
        mpb.SummarizeThreadRequest(thread_id=f"T{v}"), metadata=_alice(c)
    ),
    ("SubscribeInbox", "topic", "CONTROL_CHARACTER"): lambda c, v: c.first_item(
        mpb.SubscribeInboxRequest(topic=f"t{v}")
    ),
    ("SubscribeInbox", "thread_id", "CONTROL_CHARACTER"): lambda c, v: c.first_item(
        mpb.SubscribeInboxRequest(thread_id=f"T{v}")
    ),
    ("SearchMessages", "topic", "CONTROL_CHARACTER"): lambda c, v: c.search.SearchMessages(
        spb.SearchMessagesRequest(query="x", topic=f"t{v}"), metadata=_alice(c)
    ),
    ("SearchMessages", "thread_id", "CONTROL_CHARACTER"): lambda c, v: c.search.SearchMessages(
        spb.SearchMessagesRequest(query="x", thread_id=f"T{v}"), metadata=_alice(c)
    ),
    ("SearchMessages", "sender", "INVALID_AGENT_NAME"): lambda c, v: c.search.SearchMessages(
        spb.SearchMessagesRequest(query="x", sender=f"Bob{v}"), metadata=_alice(c)
    ),
    ("SearchMessages", "recipient", "INVALID_AGENT_NAME"): lambda c, v: c.search.SearchMessages(
        spb.SearchMessagesRequest(query="x", recipient=f"Bob{v}"), metadata=_alice(c)
    ),
}


@pytest.fixture
async def calls(channel, agents, mail, team, send) -> Calls:
    made = Calls(channel, agents, mail, team)
    made.original_id = (await send(team["Bob"], to=["Alice"], subject="original")).id
    return made


@pytest.mark.parametrize(
    ("rpc", "field", "reason"), list(CASES), ids=[f"{rpc}.{field}" for rpc, field, _ in CASES]
)
async def test_a_single_line_field_rejects_control_characters(
    calls, expect_error, rpc, field, reason
):
    for char in FORBIDDEN:
        failure = await expect_error(
            CASES[(rpc, field, reason)](calls, char), INVALID, reason, field=field
        )
        if reason == "CONTROL_CHARACTER":
            assert f"U+{ord(char):04X}" in failure.message, failure


async def test_a_task_description_may_break_lines_but_takes_no_other_control(
    agents, team, expect_error
):
    project = team["Alice"].project
    multi = "first line\n\tindented\r\nlast"
    created = await agents.RegisterAgent(
        apb.RegisterAgentRequest(project=project, name="Zed", task_description=multi)
    )
    assert created.agent.task_description == multi
    for char in ("\x00", "\x1b", "\x7f", "\x85"):
        await expect_error(
            agents.RegisterAgent(
                apb.RegisterAgentRequest(project=project, name="Yan", task_description=f"a{char}")
            ),
            INVALID,
            "CONTROL_CHARACTER",
            field="task_description",
        )


async def test_a_body_is_free_text(mail, alice, bob):
    # Agents paste terminal output: escapes, tabs, carriage returns and all.
    body = "line one\n\tindented\r\n\x1b[31mred\x1b[0m\x00\u2028end"
    sent = await mail.SendMessage(
        mpb.SendMessageRequest(to=["Bob"], subject="raw output", body=body), metadata=alice.md
    )
    got = await mail.GetMessage(mpb.GetMessageRequest(message_id=sent.message.id), metadata=bob.md)
    assert got.message.body == body


async def test_surrounding_spaces_around_a_recipient_are_still_forgiven(mail, alice, bob):
    sent = await mail.SendMessage(
        mpb.SendMessageRequest(to=["  Bob "], subject="spaced"), metadata=alice.md
    )
    assert list(sent.message.to) == ["Bob"]
