"""No token and no enrollment secret ever leaks: a server with its archive, metrics and
access log on serves traffic with real tokens (failed attempts included), then its log
records, every git object of its archive, its database files, /metrics and every error
message and trailer the clients saw are searched for each secret."""

from __future__ import annotations

import asyncio
import logging
import urllib.request

import grpc
import pygit2
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as mpb
from conftest import OPERATOR_MD, OPERATOR_TOKEN, md, open_channel, running_server

SECRET = "enrollment-secret-that-must-never-show"
ENROLL = (("x-agentmail-enrollment", SECRET),)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


class Seen:
    """Every error text and trailer value the clients received."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def fail(self, call) -> None:
        try:
            await call
        except grpc.aio.AioRpcError as error:
            self.texts.append(error.details() or "")
            self.texts.extend(str(value) for _, value in error.trailing_metadata() or ())
            return
        raise AssertionError("the call was expected to fail")


async def test_no_secret_in_logs_archive_database_metrics_or_errors(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    seen = Seen()
    async with (
        running_server(
            data,
            archive=True,
            metrics_listen="127.0.0.1:0",
            access_log=True,
            enrollment_secret=SECRET,
        ) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        await seen.fail(
            agents.EnsureProject(
                apb.EnsureProjectRequest(human_key="/leak"),
                metadata=(("x-agentmail-enrollment", SECRET + "x"),),
            )
        )
        slug = (
            await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/leak"), metadata=ENROLL)
        ).project.slug
        alice = (
            await agents.RegisterAgent(
                apb.RegisterAgentRequest(project=slug, name="Alice"), metadata=ENROLL
            )
        ).agent_token
        bob = (
            await agents.RegisterAgent(
                apb.RegisterAgentRequest(project=slug, name="Bob"), metadata=ENROLL
            )
        ).agent_token
        sent = await mail.SendMessage(
            mpb.SendMessageRequest(to=["Bob"], subject="hello", body="b"), metadata=md(alice)
        )
        await seen.fail(mail.ListInbox(mpb.ListInboxRequest(), metadata=md(alice + "x")))
        await seen.fail(
            mail.ListInbox(mpb.ListInboxRequest(), metadata=(("authorization", alice),))
        )
        await seen.fail(
            agents.RegisterAgent(
                apb.RegisterAgentRequest(project=slug, name="Alice"), metadata=md(bob)
            )
        )
        await seen.fail(mail.ListInbox(mpb.ListInboxRequest(), metadata=OPERATOR_MD))
        rotated = (
            await agents.RotateToken(apb.RotateTokenRequest(), metadata=md(alice))
        ).agent_token
        await seen.fail(mail.ListInbox(mpb.ListInboxRequest(), metadata=md(alice)))
        reissued = (
            await agents.RevokeTokens(
                apb.RevokeTokensRequest(project=slug, name="Bob", issue_new_token=True),
                metadata=OPERATOR_MD,
            )
        ).agent_token
        await seen.fail(mail.ListInbox(mpb.ListInboxRequest(), metadata=md(bob)))
        reply = await mail.ReplyMessage(
            mpb.ReplyMessageRequest(message_id=sent.message.id, body="r"), metadata=md(reissued)
        )
        await server.archive.wait_until_archived(reply.message.id, 30)
        metrics = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.metrics_port}/metrics")
        await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(rotated))

    secrets = [alice, bob, rotated, reissued, OPERATOR_TOKEN, SECRET]
    log = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.__dict__}"
        for record in caplog.records
    )
    repo = pygit2.Repository(str(server.config.archive_path))
    archive = b"".join(repo.odb.read(oid)[1] for oid in repo.odb)
    database = b"".join(
        path.read_bytes() for path in data.iterdir() if path.name.startswith("agentmail.sqlite3")
    )
    errors = "\n".join(seen.texts)
    assert "Alice" in archive.decode(errors="replace")  # the archive was searched, not empty
    assert len(seen.texts) >= 7 and "agentmail_server.access" in {r.name for r in caplog.records}
    for secret in secrets:
        assert secret not in log
        assert secret.encode() not in archive
        assert secret.encode() not in database
        assert secret not in metrics
        assert secret not in errors
