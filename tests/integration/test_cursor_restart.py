"""Cursors outlive the server: a saved cursor resumes after a restart and after a restore of a
backup of the data folder; one issued after the backup is refused as OUT_OF_RANGE
CURSOR_AHEAD rather than silently skipping mail; the key file's loss or corruption is clear."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import stat
from collections.abc import AsyncIterator
from typing import Any

import agentmail_client as am
import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as pb

KEY_FILE = "cursor.key"


class Api:
    def __init__(self, channel: grpc.aio.Channel, address: str) -> None:
        self.address = address
        self.agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        self.mail = mail_service_pb2_grpc.MailServiceStub(channel)


@contextlib.asynccontextmanager
async def serving(start_server: Any, connect: Any, data: pathlib.Path) -> AsyncIterator[Any]:
    async with start_server(data) as server, connect(server.address) as channel:
        yield Api(channel, server.address)


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def setup_team(api: Api) -> tuple[str, str]:
    """Alice and Bob in a new project; returns their tokens."""
    slug = (await api.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/r"))).project.slug
    alice = await api.agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Alice"))
    bob = await api.agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Bob"))
    return alice.agent_token, bob.agent_token


async def send(api: Api, alice: str, *subjects: str) -> None:
    for subject in subjects:
        await api.mail.SendMessage(
            pb.SendMessageRequest(to=["Bob"], subject=subject, body="b"), metadata=auth(alice)
        )


async def inbox(api: Api, bob: str, cursor: str = "", **fields: Any) -> Any:
    return await api.mail.ListInbox(
        pb.ListInboxRequest(page_token=cursor, **fields), metadata=auth(bob)
    )


async def replay(api: Api, bob: str, cursor: str) -> tuple[list[str], str]:
    """What a subscription from ``cursor`` replays, and the tail cursor once caught up."""
    call = api.mail.SubscribeInbox(pb.SubscribeInboxRequest(cursor=cursor), metadata=auth(bob))
    try:
        subjects = []
        while True:
            event = await call.read()
            if event.WhichOneof("event") == "heartbeat":
                return subjects, event.heartbeat.tail_cursor
            subjects.append(event.item.message.subject)
    finally:
        call.cancel()


async def test_cursors_and_page_tokens_survive_a_restart(tmp_path, start_server, connect):
    data = tmp_path / "data"
    async with serving(start_server, connect, data) as api:
        alice, bob = await setup_team(api)
        await send(api, alice, "m1", "m2", "m3")
        first = await inbox(api, bob, page_size=2)
        _, tail_before = await replay(api, bob, first.items[0].cursor)
        outbox = await api.mail.ListOutbox(pb.ListOutboxRequest(page_size=1), metadata=auth(alice))
    key = (data / KEY_FILE).read_bytes()
    assert stat.S_IMODE((data / KEY_FILE).stat().st_mode) == 0o600

    async with serving(start_server, connect, data) as api:
        assert (data / KEY_FILE).read_bytes() == key, "the key is kept, never replaced"
        rest = await inbox(api, bob, first.next_page_token)
        assert [i.message.subject for i in rest.items] == ["m3"]
        assert await replay(api, bob, first.items[0].cursor) == (["m2", "m3"], tail_before)
        # The same position gives the same cursor after the restart.
        assert (await inbox(api, bob)).items[2].cursor == tail_before
        older = await api.mail.ListOutbox(
            pb.ListOutboxRequest(page_token=outbox.next_page_token), metadata=auth(alice)
        )
        assert [m.subject for m in older.messages] == ["m2", "m1"]


async def test_the_typed_clients_saved_cursor_resumes_after_a_restart(
    tmp_path, start_server, connect
):
    data = tmp_path / "data"
    async with serving(start_server, connect, data) as api:
        alice, bob = await setup_team(api)
        await send(api, alice, "before")
        async with am.AgentmailClient(api.address, token=bob) as client:
            saved = (await client.wait_for_mail(0)).cursor
    async with serving(start_server, connect, data) as api:
        await send(api, alice, "after")
        async with am.AgentmailClient(api.address, token=bob) as client:
            result = await client.wait_for_mail(0, cursor=saved)
            assert [i.message.subject for i in result.items] == ["after"]
            async with client.subscribe(cursor=saved) as subscription:
                item = await anext(aiter(subscription))
                assert item.message.subject == "after"


async def test_a_restored_backup_keeps_its_cursors_and_refuses_later_ones(
    tmp_path, start_server, connect, expect_error
):
    data, backup = tmp_path / "data", tmp_path / "backup"
    async with serving(start_server, connect, data) as api:
        alice, bob = await setup_team(api)
        await send(api, alice, "m1", "m2")
        kept = (await inbox(api, bob)).items[-1].cursor
        _, empty_tail = await replay(api, bob, "")
    shutil.copytree(data, backup)  # a backup of the stopped server's data folder

    async with serving(start_server, connect, data) as api:
        await send(api, alice, "m3", "m4")
        later = await inbox(api, bob, kept)
        assert [i.message.subject for i in later.items] == ["m3", "m4"]
        ahead = later.items[-1].cursor
        newest_token = await inbox(api, bob, page_size=1, order=pb.INBOX_ORDER_NEWEST_FIRST)
        assert newest_token.next_page_token

    shutil.rmtree(data)
    shutil.copytree(backup, data)  # restore
    async with serving(start_server, connect, data) as api:
        assert (await inbox(api, bob, kept)).items == []
        assert await replay(api, bob, kept) == ([], kept)
        assert empty_tail == kept
        failure = await expect_error(
            inbox(api, bob, ahead),
            grpc.StatusCode.OUT_OF_RANGE,
            "CURSOR_AHEAD",
            field="page_token",
        )
        assert "m4" not in failure.message and ahead not in failure.message
        call = api.mail.SubscribeInbox(pb.SubscribeInboxRequest(cursor=ahead), metadata=auth(bob))
        await expect_error(
            call.read(), grpc.StatusCode.OUT_OF_RANGE, "CURSOR_AHEAD", field="cursor"
        )
        call.cancel()
        await expect_error(
            inbox(
                api,
                bob,
                newest_token.next_page_token,
                order=pb.INBOX_ORDER_NEWEST_FIRST,
            ),
            grpc.StatusCode.OUT_OF_RANGE,
            "CURSOR_AHEAD",
        )
        async with am.AgentmailClient(api.address, token=bob) as client:
            with pytest.raises(am.OutOfRange) as caught:
                await client.wait_for_mail(0, cursor=ahead)
            assert caught.value.reason == "CURSOR_AHEAD"
        # Mail delivered after the restore reaches the old cursor's holder.
        await send(api, alice, "m3 again")
        assert [i.message.subject for i in (await inbox(api, bob, kept)).items] == ["m3 again"]


async def test_a_lost_key_invalidates_cursors_but_loses_no_mail(
    tmp_path, start_server, connect, expect_error, backend
):
    data = tmp_path / "data"
    async with serving(start_server, connect, data) as api:
        alice, bob = await setup_team(api)
        await send(api, alice, "m1", "m2")
        cursor = (await inbox(api, bob)).items[0].cursor
    (data / KEY_FILE).unlink()
    async with serving(start_server, connect, data) as api:
        if backend == "postgres":
            # The key every server on the database shares is kept in the database: losing the
            # data folder's file loses nothing (storage.postgres.shared_key).
            assert [i.message.subject for i in (await inbox(api, bob, cursor)).items] == ["m2"]
        else:
            await expect_error(
                inbox(api, bob, cursor),
                grpc.StatusCode.INVALID_ARGUMENT,
                "INVALID_PAGE_TOKEN",
                field="page_token",
            )
        assert [i.message.subject for i in (await inbox(api, bob)).items] == ["m1", "m2"]
    assert (data / KEY_FILE).exists()


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"00" * 10])
async def test_a_corrupt_key_stops_start_up_and_is_left_alone(
    tmp_path, start_server, connect, content
):
    data = tmp_path / "data"
    async with serving(start_server, connect, data):
        pass
    (data / KEY_FILE).write_bytes(content)
    with pytest.raises(RuntimeError, match=r"cursor key .* is corrupt"):
        async with start_server(data):
            pass
    assert (data / KEY_FILE).read_bytes() == content
    # Deleting it is the documented way out: the server starts again (with a new key).
    (data / KEY_FILE).unlink()
    async with serving(start_server, connect, data):
        pass
