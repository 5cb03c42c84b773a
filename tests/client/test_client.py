"""The client against a real in-process agentmail server on port 0."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import agentmail_client as am
import grpc
import grpc.aio
import pytest
from agentmail_server.app import AgentmailServer
from agentmail_server.config import ServerConfig
from conftest import OPERATOR_TOKEN, operator_hash

from ._support import CountingInterceptor

QUICKSTART = pathlib.Path(__file__).resolve().parents[2] / "clients" / "examples" / "quickstart.py"
FAST_RETRY = am.RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


def server_config(data_dir: pathlib.Path, listen: str = "127.0.0.1:0") -> ServerConfig:
    # No archive, as in the shared fixtures: these tests are not about it (tests/conftest.py).
    return ServerConfig(
        listen=listen,
        data_dir=data_dir,
        grace_seconds=1.0,
        archive=False,
        operator_token_hashes=operator_hash(),
    )


@pytest.fixture
async def server(tmp_path: pathlib.Path) -> AsyncIterator[AgentmailServer]:
    running = AgentmailServer(server_config(tmp_path))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def client(server: AgentmailServer) -> AsyncIterator[am.AgentmailClient]:
    async with am.AgentmailClient(server.address, retry=FAST_RETRY) as opened:
        yield opened


@dataclasses.dataclass(frozen=True)
class Team:
    project: am.Project
    alice: am.AgentmailClient
    bob: am.AgentmailClient
    carol: am.AgentmailClient


@pytest.fixture
async def team(client: am.AgentmailClient) -> Team:
    project = (await client.ensure_project("/srv/repos/team")).project
    members = []
    for name in ("Alice", "Bob", "Carol"):
        member = client.with_token(None)
        await member.register_agent(project.slug, name, program="pytest", model="m1")
        members.append(member)
    return Team(project, *members)


async def test_ensure_project_creates_once_and_returns_the_same_project(
    client: am.AgentmailClient,
) -> None:
    first = await client.ensure_project("/srv/repos/Demo App")
    again = await client.ensure_project("/srv/repos/Demo App")
    assert first.created is True
    assert again.created is False
    assert again.project == first.project
    assert first.project.create_time is not None
    assert first.project.create_time.tzinfo is not None
    operator = client.with_token(OPERATOR_TOKEN)  # directory reads need a token
    assert await operator.get_project(first.project.slug) == first.project
    listed = await operator.list_projects()
    assert [p.slug for p in listed] == [first.project.slug]
    assert listed.next_page_token == ""


async def test_register_adopts_the_token_and_agents_are_found_regardless_of_case(
    client: am.AgentmailClient,
) -> None:
    slug = (await client.ensure_project("/srv/repos/reg")).project.slug
    alice = client.with_token(None)
    result = await alice.register_agent(slug, "Alice", program="claude-code", model="opus")
    assert result.created is True
    assert result.token.startswith("am_")
    assert alice.token == result.token
    assert client.token is None
    assert "am_" not in repr(result)
    found = await alice.get_agent(slug, "aLiCe")
    assert found.name == "Alice"
    assert found.program == "claude-code"
    assert [a.name for a in await alice.list_agents(slug)] == ["Alice"]


async def test_reregistering_needs_the_agents_own_token(team: Team) -> None:
    slug = team.project.slug
    anonymous = team.alice.with_token(None)
    with pytest.raises(am.AlreadyExists) as exists:
        await anonymous.register_agent(slug, "alice")
    assert exists.value.reason == "AGENT_EXISTS"
    with pytest.raises(am.PermissionDenied) as denied:
        await team.bob.register_agent(slug, "Alice")
    assert denied.value.reason == "NOT_AGENT_OWNER"
    again = await team.alice.register_agent(slug, "ALICE", program="codex", model="m2")
    assert again.created is False
    assert again.token == team.alice.token
    assert again.agent.name == "Alice"
    assert again.agent.program == "codex"


async def test_a_closed_client_refuses_calls(server: AgentmailServer) -> None:
    async with am.AgentmailClient(server.address) as client:
        view = client.with_token(OPERATOR_TOKEN)
        await view.close()  # a view does not own the channel
        await view.list_projects()
    with pytest.raises(RuntimeError, match="closed"):
        await view.list_projects()


async def test_update_agent_changes_only_the_given_fields(team: Team) -> None:
    updated = await team.alice.update_agent(task_description="fix the build")
    assert updated.task_description == "fix the build"
    assert updated.program == "pytest"
    assert updated.model == "m1"
    with pytest.raises(ValueError, match="at least one field"):
        await team.alice.update_agent()


async def test_send_list_read_and_acknowledge(team: Team) -> None:
    sent = await team.alice.send_message(
        to="bob",
        cc=["Carol"],
        subject="Build is red",
        body="Please look at `test_inbox`.",
        importance=am.Importance.HIGH,
        ack_required=True,
        topic="ci",
    )
    message = sent.message
    assert sent.deduplicated is False
    assert message.id > 0
    assert message.thread_id == str(message.id)
    assert message.to == ("Bob",)
    assert message.cc == ("Carol",)
    assert message.importance is am.Importance.HIGH

    inbox = await team.bob.list_inbox(unread_only=True)
    assert len(inbox) == 1
    item = inbox.items[0]
    assert item.message.id == message.id
    assert item.message.body == "Please look at `test_inbox`."
    assert item.kind is am.RecipientKind.TO
    assert not item.is_read
    assert item.cursor

    detail = await team.carol.get_message(message.id)
    assert detail.delivery is not None
    assert detail.delivery.kind is am.RecipientKind.CC
    assert (await team.alice.get_message(message.id)).delivery is None

    (read,) = await team.bob.mark_read(message.id)
    assert read.read_time is not None
    assert read.ack_time is None
    (acked,) = await team.bob.acknowledge_message([message.id, message.id])
    assert acked.read_time == read.read_time
    assert acked.ack_time is not None
    assert acked.ack_time.tzinfo is not None
    (repeat,) = await team.bob.acknowledge_message(message.id)
    assert repeat == acked
    assert len(await team.bob.list_inbox(unread_only=True)) == 0
    (after,) = (await team.bob.list_inbox()).items
    assert after.is_read
    assert after.is_acknowledged


async def test_reply_joins_the_thread_and_prefixes_the_subject(team: Team) -> None:
    original = (await team.alice.send_message(to="Bob", subject="Plan", body="v1")).message
    reply = (await team.bob.reply_message(original.id, body="ok")).message
    assert reply.thread_id == original.thread_id
    assert reply.subject == "Re: Plan"
    assert reply.to == ("Alice",)
    again = (await team.alice.reply_message(reply.id, body="thanks")).message
    assert again.subject == "Re: Plan"
    thread = await team.bob.get_thread(original.thread_id)
    assert [m.id for m in thread] == [original.id, reply.id, again.id]
    with pytest.raises(am.NotFound) as missing:
        await team.carol.get_thread(original.thread_id)
    assert missing.value.reason == "THREAD_NOT_FOUND"


async def test_idempotency_key_returns_the_original_message(team: Team) -> None:
    first = await team.alice.send_message(to="Bob", subject="Once", idempotency_key="k-1")
    second = await team.alice.send_message(to="Bob", subject="Once", idempotency_key="k-1")
    assert second.deduplicated is True
    assert second.message.id == first.message.id
    assert len(await team.bob.list_inbox()) == 1


async def test_an_idempotency_key_reused_for_other_content_raises(team: Team) -> None:
    first = await team.alice.send_message(to="Bob", subject="Once", idempotency_key="k-1")
    with pytest.raises(am.FailedPrecondition) as caught:
        await team.alice.send_message(to="Bob", subject="Twice", idempotency_key="k-1")
    assert caught.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert caught.value.metadata["messageId"] == str(first.message.id)
    assert len(await team.bob.list_inbox()) == 1


async def test_every_read_returns_bodies_unless_asked_not_to(team: Team) -> None:
    # The client sends an explicit view; both settings must reach the server on every read.
    sent = await team.alice.send_message(to="Bob", subject="Bodied", body="the body")
    reads: dict[str, Callable[[bool], Awaitable[Any]]] = {
        "inbox": lambda bodies: team.bob.list_inbox(include_bodies=bodies),
        "outbox": lambda bodies: team.alice.list_outbox(include_bodies=bodies),
        "thread": lambda bodies: team.bob.get_thread(sent.message.thread_id, include_bodies=bodies),
        "search": lambda bodies: team.bob.search_messages("bodied", include_bodies=bodies),
    }
    for name, read in reads.items():
        for bodies, expected in ((True, "the body"), (False, "")):
            (first,) = (await read(bodies)).items
            message = getattr(first, "message", first)
            assert (message.body, message.body_size_bytes) == (expected, 8), (name, bodies)


async def test_bcc_is_visible_only_to_the_sender_and_the_bcc_recipient(team: Team) -> None:
    sent = await team.alice.send_message(to="Bob", bcc="Carol", subject="Secret")
    assert sent.message.bcc == ("Carol",)
    assert (await team.bob.get_message(sent.message.id)).message.bcc == ()
    (item,) = (await team.carol.list_inbox()).items
    assert item.kind is am.RecipientKind.BCC
    assert item.message.bcc == ("Carol",)


async def test_broadcast_addresses_every_other_agent(team: Team) -> None:
    sent = await team.alice.send_message(broadcast=True, subject="Standup")
    assert sent.message.to == ("Bob", "Carol")
    outbox = await team.alice.list_outbox()
    assert [m.id for m in outbox] == [sent.message.id]


async def test_oldest_first_paging_visits_each_message_once(team: Team) -> None:
    ids = [(await team.alice.send_message(to="Bob", subject=f"n{i}")).message.id for i in range(5)]
    seen: list[int] = []
    token = ""
    while True:
        page = await team.bob.list_inbox(page_size=2, page_token=token, include_bodies=False)
        if not page.items:
            break
        seen.extend(item.message.id for item in page)
        token = page.next_page_token
    assert seen == ids
    newest = await team.bob.list_inbox(order=am.InboxOrder.NEWEST_FIRST, page_size=2)
    assert [item.message.id for item in newest] == ids[:-3:-1]


async def test_unknown_recipients_raise_not_found_naming_them(team: Team) -> None:
    with pytest.raises(am.NotFound) as caught:
        await team.alice.send_message(to=["Bob", "Zed"], cc="Yan", subject="hello")
    error = caught.value
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert error.reason == "RECIPIENT_NOT_FOUND"
    assert error.domain == "agentmail.dev"
    assert set(error.metadata["missing"].split(",")) == {"Zed", "Yan"}
    assert isinstance(error.__cause__, grpc.aio.AioRpcError)


async def test_invalid_requests_raise_invalid_argument_with_field_violations(
    team: Team,
) -> None:
    with pytest.raises(am.InvalidArgument) as long_subject:
        await team.alice.send_message(to="Bob", subject="x" * 201)
    assert long_subject.value.reason == "SUBJECT_TOO_LONG"
    assert [v.field for v in long_subject.value.field_violations] == ["subject"]

    with pytest.raises(am.InvalidArgument) as bad_name:
        await team.alice.with_token(None).register_agent(team.project.slug, "9lives")
    assert bad_name.value.reason == "INVALID_AGENT_NAME"
    assert [v.field for v in bad_name.value.field_violations] == ["name"]

    with pytest.raises(am.InvalidArgument) as bad_token:
        await team.bob.list_inbox(page_token="garbage")
    assert bad_token.value.reason == "INVALID_PAGE_TOKEN"


async def test_mail_calls_without_a_valid_token_are_unauthenticated(team: Team) -> None:
    with pytest.raises(am.Unauthenticated) as missing:
        await team.alice.with_token(None).list_inbox()
    assert missing.value.reason == "TOKEN_MISSING"
    with pytest.raises(am.Unauthenticated) as invalid:
        await team.alice.with_token("am_not-a-real-token").list_inbox()
    assert invalid.value.reason == "TOKEN_INVALID"


async def test_unknown_project_and_message_raise_not_found(team: Team) -> None:
    with pytest.raises(am.NotFound) as project:
        await team.alice.get_project("no-such-project")
    assert project.value.reason == "PROJECT_NOT_FOUND"
    sent = await team.alice.send_message(to="Bob", subject="private")
    with pytest.raises(am.NotFound) as message:
        await team.carol.get_message(sent.message.id)
    assert message.value.reason == "MESSAGE_NOT_FOUND"
    with pytest.raises(am.NotFound) as not_received:
        await team.alice.mark_read(sent.message.id)
    assert not_received.value.reason == "MESSAGE_NOT_FOUND"


async def test_deadline_exceeded_is_retried_for_reads_only(hung_address: str) -> None:
    counter = CountingInterceptor()
    retry = am.RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0)
    async with am.AgentmailClient(
        hung_address, token="am_x", retry=retry, interceptors=[counter]
    ) as client:
        with pytest.raises(am.DeadlineExceeded) as read:
            await client.list_inbox(timeout=0.05)
        with pytest.raises(am.DeadlineExceeded):
            await client.mark_read(1, timeout=0.05)
    assert read.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert counter.count("ListInbox") == 3
    assert counter.count("MarkRead") == 1


async def test_idempotent_calls_are_retried_until_the_server_is_back(
    tmp_path: pathlib.Path,
) -> None:
    first = AgentmailServer(server_config(tmp_path))
    await first.start()
    address = first.address
    await first.stop()

    counter = CountingInterceptor()
    retry = am.RetryPolicy(max_attempts=30, initial_backoff=0.05, max_backoff=0.2)
    # Reconnect quickly after the refused connections, so that the test stays short.
    channel = am.ChannelConfig(
        extra_options=(
            ("grpc.initial_reconnect_backoff_ms", 50),
            ("grpc.max_reconnect_backoff_ms", 100),
        )
    )
    async with am.AgentmailClient(
        address, retry=retry, channel=channel, interceptors=[counter]
    ) as client:
        with pytest.raises(am.Unavailable):
            await client.send_message(to="Bob", subject="unsafe to repeat")
        assert counter.count("SendMessage") == 1

        call = asyncio.create_task(client.ensure_project("/srv/repos/retry"))
        # Refused twice and on its third attempt: the call is retrying, not giving up. (Waiting
        # on the attempts seen rather than for a while: a busy machine slows both alike.)
        third = asyncio.create_task(counter.reached("EnsureProject", 3))
        await asyncio.wait({third, call}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        third.cancel()
        assert not call.done(), call
        assert counter.count("EnsureProject") >= 3
        second = AgentmailServer(server_config(tmp_path, listen=address))
        await second.start()
        try:
            ensured = await asyncio.wait_for(call, timeout=10)
        finally:
            await second.stop()
    assert ensured.created is True
    assert counter.count("EnsureProject") > 1


async def test_quickstart_example_runs_against_a_real_server(
    server: AgentmailServer, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("quickstart", QUICKSTART)
    assert spec is not None
    assert spec.loader is not None
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    await quickstart.main(server.address, "/srv/repos/quickstart")
    out = capsys.readouterr().out
    assert "project 'srv-repos-quickstart' (created: True)" in out
    assert "Bob has [high] 'Build is red'" in out
    assert "Bob acknowledged" in out
    assert "Bob replied: 'Re: Build is red' to Alice" in out


# send_many: any number of messages cut into SendMessages calls, one result or typed error
# per message, in order.
async def test_send_many_returns_each_result_or_error_in_order(team: Team) -> None:
    messages = [
        am.OutgoingMessage(to="Bob", subject=f"m{i}", body=f"b{i}", topic="bulk") for i in range(7)
    ]
    messages[3] = am.OutgoingMessage(to="Nobody", subject="lost")
    messages[5] = am.OutgoingMessage(to="Bob", subject="x" * 201)
    results = await team.alice.send_many(messages, per_call=3)  # three calls: 3, 3 and 1
    assert len(results) == 7
    missing, too_long = results[3], results[5]
    assert isinstance(missing, am.NotFound)
    assert missing.reason == "RECIPIENT_NOT_FOUND"
    assert missing.metadata["missing"] == "Nobody"
    assert isinstance(too_long, am.InvalidArgument)
    assert too_long.reason == "SUBJECT_TOO_LONG"
    assert too_long.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in too_long.field_violations] == ["subject"]
    sent = [r for r in results if isinstance(r, am.SendMessageResult)]
    assert [r.message.subject for r in sent] == ["m0", "m1", "m2", "m4", "m6"]
    ids = [r.message.id for r in sent]
    assert ids == sorted(ids)
    inbox = await team.bob.list_inbox()
    assert [item.message.id for item in inbox.items] == ids


async def test_send_many_repeats_keyed_messages_idempotently(team: Team) -> None:
    messages = [
        am.OutgoingMessage(to="Bob", subject=f"k{i}", idempotency_key=f"key-{i}") for i in range(4)
    ]
    first = await team.alice.send_many(messages)
    again = await team.alice.send_many(messages)
    assert all(isinstance(r, am.SendMessageResult) for r in first + again)
    assert [r.deduplicated for r in again] == [True] * 4  # type: ignore[union-attr]
    assert [r.message.id for r in again] == [r.message.id for r in first]  # type: ignore[union-attr]


async def test_per_call_must_be_positive(team: Team) -> None:
    with pytest.raises(ValueError, match="per_call"):
        await team.alice.send_many([am.OutgoingMessage(to="Bob", subject="s")], per_call=0)
