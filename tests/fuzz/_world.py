"""The seeded world a fuzz module runs against, and the RPCs of ``agentmail.v1`` found by walking
its descriptors (so a new service, method or field is fuzzed without touching these tests)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import agentmail.v1
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
    receipts_pb2,
    reservation_service_pb2,
    reservation_service_pb2_grpc,
    search_service_pb2,
    search_service_pb2_grpc,
)
from conftest import OPERATOR_MD
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

PACKAGE = "agentmail.v1"


def services() -> list[ServiceDescriptor]:
    """Every service declared in any ``agentmail.v1`` proto file, by full name."""
    found: dict[str, ServiceDescriptor] = {}
    for module_info in pkgutil.iter_modules(agentmail.v1.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{PACKAGE}.{module_info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            found[service.full_name] = service
    return [found[name] for name in sorted(found)]


def methods() -> list[MethodDescriptor]:
    """Every method of every ``agentmail.v1`` service."""
    return [method for service in services() for method in service.methods]


def method_path(method: MethodDescriptor) -> str:
    """The HTTP/2 path of a method: ``/agentmail.v1.MailService/SendMessage``."""
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclasses.dataclass
class World:
    """What the seeding created: names, tokens, ids and tokens the server issued.

    ``tokens`` maps each agent of the main project to its secret; ``outsider_token`` belongs to
    the only agent of a second project. ``page_tokens`` holds real page tokens and cursors of
    every listing, handed out by the server to ``Alice`` (``foreign_page_tokens`` to ``Bob``).
    """

    project: str
    other_project: str
    # Secrets stay out of failure reports, as out of any other output.
    tokens: dict[str, str] = dataclasses.field(repr=False)
    outsider: str
    outsider_token: str = dataclasses.field(repr=False)
    message_ids: list[int]
    thread_ids: list[str]
    # Reservations of Alice, of Bob and of the outsider, in that order.
    reservation_ids: list[int]
    page_tokens: list[str]
    foreign_page_tokens: list[str]


async def heal_tokens(channel: object, world: World) -> None:
    """Give every agent of ``world`` a fresh token (the operator revokes and reissues), after
    a fuzzed RotateToken or RevokeTokens may have changed one."""
    agents = agent_service_pb2_grpc.AgentServiceStub(channel)
    for name in [*world.tokens, world.outsider]:
        project = world.other_project if name == world.outsider else world.project
        answer = await agents.RevokeTokens(
            agent_service_pb2.RevokeTokensRequest(project=project, name=name, issue_new_token=True),
            metadata=OPERATOR_MD,
        )
        if name == world.outsider:
            world.outsider_token = answer.agent_token
        else:
            world.tokens[name] = answer.agent_token


def md(token: str) -> tuple[tuple[str, str], ...]:
    """Authorization metadata for ``token``."""
    return (("authorization", f"Bearer {token}"),)


async def seed(channel: object) -> World:
    """Create two projects, four agents and a few threads of mail; collect real tokens."""
    agents = agent_service_pb2_grpc.AgentServiceStub(channel)
    mail = mail_service_pb2_grpc.MailServiceStub(channel)
    search = search_service_pb2_grpc.SearchServiceStub(channel)
    project = (
        await agents.EnsureProject(agent_service_pb2.EnsureProjectRequest(human_key="/fuzz/main"))
    ).project.slug
    other = (
        await agents.EnsureProject(agent_service_pb2.EnsureProjectRequest(human_key="/fuzz/other"))
    ).project.slug
    tokens: dict[str, str] = {}
    for name in ("Alice", "Bob", "Carol"):
        registered = await agents.RegisterAgent(
            agent_service_pb2.RegisterAgentRequest(project=project, name=name, program="fuzz")
        )
        tokens[name] = registered.agent_token
    outsider = await agents.RegisterAgent(
        agent_service_pb2.RegisterAgentRequest(project=other, name="Olga")
    )
    ids: list[int] = []
    threads: list[str] = []
    for number, (sender, to, cc) in enumerate(
        [("Alice", "Bob", "Carol"), ("Bob", "Alice", ""), ("Carol", "Alice", "Bob")]
    ):
        sent = await mail.SendMessage(
            mail_service_pb2.SendMessageRequest(
                to=[to],
                cc=[cc] if cc else [],
                subject=f"schema change {number}",
                body=f"- [ ] migrate orders {number}\nTODO: tell the team",
                topic="db",
                importance=number + 1,
                ack_required=True,
            ),
            metadata=md(tokens[sender]),
        )
        ids.append(sent.message.id)
        threads.append(sent.message.thread_id)
    reply = await mail.ReplyMessage(
        mail_service_pb2.ReplyMessageRequest(message_id=ids[0], body="done", reply_all=True),
        metadata=md(tokens["Bob"]),
    )
    ids.append(reply.message.id)
    # A second message awaiting acknowledgements, so that the ack listings have a next page.
    reminder = await mail.SendMessage(
        mail_service_pb2.SendMessageRequest(
            to=["Bob"], subject="schema reminder", body="please ack", ack_required=True
        ),
        metadata=md(tokens["Alice"]),
    )
    ids.append(reminder.message.id)
    reservations = reservation_service_pb2_grpc.ReservationServiceStub(channel)
    reservation_ids = []
    for paths, token in (
        (["src/**", "docs/a.md"], tokens["Alice"]),
        (["lib/b.py"], tokens["Bob"]),
        (["src/x.py"], outsider.agent_token),
    ):
        reserved = await reservations.ReservePaths(
            reservation_service_pb2.ReservePathsRequest(paths=paths), metadata=md(token)
        )
        reservation_ids.extend(r.id for r in reserved.granted)
    return World(
        project=project,
        other_project=other,
        tokens=tokens,
        outsider="Olga",
        outsider_token=outsider.agent_token,
        message_ids=ids,
        thread_ids=threads,
        reservation_ids=reservation_ids,
        page_tokens=await _issued_tokens(
            agents, mail, search, reservations, project, threads[0], tokens["Alice"]
        ),
        foreign_page_tokens=await _issued_tokens(
            agents, mail, search, reservations, project, threads[0], tokens["Bob"]
        ),
    )


async def _issued_tokens(
    agents: agent_service_pb2_grpc.AgentServiceStub,
    mail: mail_service_pb2_grpc.MailServiceStub,
    search: search_service_pb2_grpc.SearchServiceStub,
    reservations: reservation_service_pb2_grpc.ReservationServiceStub,
    project: str,
    thread: str,
    token: str,
) -> list[str]:
    """One real page token (or cursor) of each listing, as issued to the holder of ``token``."""
    auth = md(token)
    inbox = await mail.ListInbox(mail_service_pb2.ListInboxRequest(page_size=1), metadata=auth)
    newest = await mail.ListInbox(
        mail_service_pb2.ListInboxRequest(
            page_size=1, order=mail_service_pb2.INBOX_ORDER_NEWEST_FIRST
        ),
        metadata=auth,
    )
    outbox = await mail.ListOutbox(mail_service_pb2.ListOutboxRequest(page_size=1), metadata=auth)
    in_thread = await mail.GetThread(
        mail_service_pb2.GetThreadRequest(thread_id=thread, page_size=1), metadata=auth
    )
    found = await search.SearchMessages(
        search_service_pb2.SearchMessagesRequest(query="schema", page_size=1), metadata=auth
    )
    newest_found = await search.SearchMessages(
        search_service_pb2.SearchMessagesRequest(
            query="schema", page_size=1, order=search_service_pb2.SEARCH_ORDER_NEWEST
        ),
        metadata=auth,
    )
    # Only an operator pages through projects (an agent sees its own alone).
    projects = await agents.ListProjects(
        agent_service_pb2.ListProjectsRequest(page_size=1), metadata=OPERATOR_MD
    )
    listed = await agents.ListAgents(
        agent_service_pb2.ListAgentsRequest(project=project, page_size=1), metadata=auth
    )
    contacts = await agents.ListContacts(
        agent_service_pb2.ListContactsRequest(page_size=1), metadata=auth
    )
    waiting = await mail.ListPendingAcks(
        receipts_pb2.ListPendingAcksRequest(page_size=1), metadata=auth
    )
    newest_waiting = await mail.ListPendingAcks(
        receipts_pb2.ListPendingAcksRequest(page_size=1, order=receipts_pb2.ACK_ORDER_NEWEST_FIRST),
        metadata=auth,
    )
    unacknowledged = await mail.ListUnacknowledged(
        receipts_pb2.ListUnacknowledgedRequest(page_size=1), metadata=auth
    )
    held = await reservations.ListReservations(
        reservation_service_pb2.ListReservationsRequest(page_size=1), metadata=auth
    )
    issued = [
        inbox.next_page_token,
        held.next_page_token,
        *(item.cursor for item in inbox.items),
        newest.next_page_token,
        outbox.next_page_token,
        in_thread.next_page_token,
        found.next_page_token,
        newest_found.next_page_token,
        projects.next_page_token,
        listed.next_page_token,
        contacts.next_page_token,
        waiting.next_page_token,
        newest_waiting.next_page_token,
        unacknowledged.next_page_token,
    ]
    return [value for value in issued if value]
