"""Token lifecycle and enrollment: rotation (with and without overlap), revocation by an
operator (ending open streams at once), the enrollment secret, operator scope, and that a
name is never taken over without its token."""

from __future__ import annotations

import asyncio

import grpc
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail_server.domain.clock import ManualClock
from conftest import OPERATOR_MD, expect_error, md, open_channel, rpc_failure, running_server

UNAUTH = grpc.StatusCode.UNAUTHENTICATED
SECRET = "s3cret-enrollment-value"
ENROLL = (("x-agentmail-enrollment", SECRET),)


async def enrolled(agents, human_key: str, name: str, metadata=ENROLL) -> tuple[str, str]:
    project = await agents.EnsureProject(
        apb.EnsureProjectRequest(human_key=human_key), metadata=metadata
    )
    registered = await agents.RegisterAgent(
        apb.RegisterAgentRequest(project=project.project.slug, name=name), metadata=metadata
    )
    return project.project.slug, registered.agent_token


async def test_rotation_without_overlap_ends_the_old_token_at_once(tmp_path):
    async with (
        running_server(tmp_path / "d", archive=False) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        _, old = await enrolled(agents, "/rot", "Alice", ())
        await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(old))  # cached now

        rotated = await agents.RotateToken(apb.RotateTokenRequest(), metadata=md(old))

        assert rotated.agent_token.startswith("am_") and rotated.agent_token != old
        await expect_error(
            mail.ListInbox(mpb.ListInboxRequest(), metadata=md(old)), UNAUTH, "TOKEN_INVALID"
        )
        await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(rotated.agent_token))


async def test_rotation_with_overlap_keeps_the_old_token_until_it_expires(tmp_path):
    clock = ManualClock()
    async with (
        running_server(tmp_path / "d", archive=False, clock=clock) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        _, old = await enrolled(agents, "/rot", "Alice", ())

        rotated = await agents.RotateToken(
            apb.RotateTokenRequest(overlap_seconds=60), metadata=md(old)
        )
        await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(old))
        clock.advance(seconds=59)
        await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(old))
        clock.advance(seconds=1)

        await expect_error(
            mail.ListInbox(mpb.ListInboxRequest(), metadata=md(old)), UNAUTH, "TOKEN_INVALID"
        )
        await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(rotated.agent_token))
        assert rotated.previous_expire_time.seconds > 0


async def test_rotation_overlap_beyond_an_hour_is_invalid(tmp_path):
    async with (
        running_server(tmp_path / "d", archive=False) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        _, token = await enrolled(agents, "/rot", "Alice", ())
        for overlap in (-1, 3601):
            await expect_error(
                agents.RotateToken(
                    apb.RotateTokenRequest(overlap_seconds=overlap), metadata=md(token)
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "INVALID_ARGUMENT",
                field="overlap_seconds",
            )
        # The refused rotations changed nothing.
        await agents.GetAgent(apb.GetAgentRequest(project="rot", name="Alice"), metadata=md(token))


async def test_revocation_ends_every_token_and_open_stream_at_once(tmp_path):
    async with (
        running_server(tmp_path / "d", archive=False, heartbeat_seconds=0.2) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        slug, token = await enrolled(agents, "/rev", "Alice", ())
        rotated = await agents.RotateToken(
            apb.RotateTokenRequest(overlap_seconds=600), metadata=md(token)
        )
        stream = mail.SubscribeInbox(mpb.SubscribeInboxRequest(), metadata=md(token))
        first = await stream.read()
        assert first.HasField("heartbeat")

        revoked = await agents.RevokeTokens(
            apb.RevokeTokensRequest(project=slug, name="alice"), metadata=OPERATOR_MD
        )

        assert revoked.revoked == 2 and revoked.agent_token == ""
        ended = None
        try:
            async with asyncio.timeout(20):
                while True:
                    await stream.read()
        except grpc.aio.AioRpcError as error:
            ended = error
        assert ended is not None and ended.code() == UNAUTH
        assert rpc_failure(ended).reason == "TOKEN_REVOKED"
        for old in (token, rotated.agent_token):
            await expect_error(
                mail.ListInbox(mpb.ListInboxRequest(), metadata=md(old)), UNAUTH, "TOKEN_INVALID"
            )


async def test_revocation_ends_tokens_the_server_has_cached_at_once(tmp_path):
    # The token cache is keyed by the presented token: a revocation must still drop every
    # cached token of the agent (and only its), before the next call.
    async with (
        running_server(tmp_path / "d", archive=False) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        slug, token = await enrolled(agents, "/rev", "Alice", ())
        _, other = await enrolled(agents, "/rev", "Bob", ())
        rotated = await agents.RotateToken(
            apb.RotateTokenRequest(overlap_seconds=600), metadata=md(token)
        )
        for cached in (token, rotated.agent_token, other):
            for _ in range(2):  # the second call is answered from the cache
                await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(cached))

        await agents.RevokeTokens(
            apb.RevokeTokensRequest(project=slug, name="Alice"), metadata=OPERATOR_MD
        )

        for revoked in (token, rotated.agent_token):
            await expect_error(
                mail.ListInbox(mpb.ListInboxRequest(), metadata=md(revoked)),
                UNAUTH,
                "TOKEN_INVALID",
            )
        await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(other))


async def test_a_revoked_agent_can_be_given_a_new_token_and_keeps_its_mail(tmp_path):
    async with (
        running_server(tmp_path / "d", archive=False) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        slug, alice = await enrolled(agents, "/rev", "Alice", ())
        bob = (
            await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Bob"))
        ).agent_token
        await mail.SendMessage(
            mpb.SendMessageRequest(to=["Alice"], subject="kept", body="b"), metadata=md(bob)
        )

        reissued = await agents.RevokeTokens(
            apb.RevokeTokensRequest(project=slug, name="Alice", issue_new_token=True),
            metadata=OPERATOR_MD,
        )

        inbox = await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(reissued.agent_token))
        assert [item.message.subject for item in inbox.items] == ["kept"]
        await expect_error(
            mail.ListInbox(mpb.ListInboxRequest(), metadata=md(alice)), UNAUTH, "TOKEN_INVALID"
        )


async def test_enrollment_secret_guards_new_projects_and_agents_only(tmp_path):
    async with (
        running_server(tmp_path / "d", archive=False, enrollment_secret=SECRET) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        new_project = apb.EnsureProjectRequest(human_key="/enroll")
        await expect_error(agents.EnsureProject(new_project), UNAUTH, "ENROLLMENT_REQUIRED")
        await expect_error(
            agents.EnsureProject(new_project, metadata=(("x-agentmail-enrollment", "wrong"),)),
            UNAUTH,
            "ENROLLMENT_INVALID",
        )
        slug, token = await enrolled(agents, "/enroll", "Alice")
        new_agent = apb.RegisterAgentRequest(project=slug, name="Bob")
        await expect_error(agents.RegisterAgent(new_agent), UNAUTH, "ENROLLMENT_REQUIRED")
        # An agent cannot enroll another one with its own token either.
        await expect_error(
            agents.RegisterAgent(new_agent, metadata=md(token)), UNAUTH, "ENROLLMENT_REQUIRED"
        )

        # Its own agent re-registers and re-ensures its project without the secret.
        again = await agents.RegisterAgent(
            apb.RegisterAgentRequest(project=slug, name="Alice", program="v2"),
            metadata=md(token),
        )
        ensured = await agents.EnsureProject(new_project, metadata=md(token))
        # An operator enrolls without the secret.
        by_operator = await agents.RegisterAgent(new_agent, metadata=OPERATOR_MD)

        assert not again.created and again.agent.program == "v2"
        assert not ensured.created and ensured.project.slug == slug
        assert by_operator.created and by_operator.agent_token.startswith("am_")


async def test_an_existing_name_is_never_taken_over_without_its_token(tmp_path):
    async with (
        running_server(tmp_path / "d", archive=False, enrollment_secret=SECRET) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        slug, token = await enrolled(agents, "/take", "Alice")
        _, outsider = await enrolled(agents, "/other", "Olga")
        request = apb.RegisterAgentRequest(project=slug, name="ALICE", program="thief")
        await expect_error(
            agents.RegisterAgent(request, metadata=ENROLL),
            grpc.StatusCode.ALREADY_EXISTS,
            "AGENT_EXISTS",
        )
        await expect_error(
            agents.RegisterAgent(request, metadata=(*ENROLL, *md("am_" + "y" * 43))),
            UNAUTH,
            "TOKEN_INVALID",
        )
        await expect_error(
            agents.RegisterAgent(request, metadata=(*ENROLL, *md(outsider))),
            grpc.StatusCode.PERMISSION_DENIED,
            "NOT_AGENT_OWNER",
        )
        got = await agents.GetAgent(
            apb.GetAgentRequest(project=slug, name="Alice"), metadata=md(token)
        )
        assert got.agent.program == ""


async def test_agents_see_their_own_project_and_operators_see_all(tmp_path):
    async with (
        running_server(tmp_path / "d", archive=False) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        first, alice = await enrolled(agents, "/one", "Alice", ())
        second, _ = await enrolled(agents, "/two", "Olga", ())

        mine = await agents.ListProjects(apb.ListProjectsRequest(), metadata=md(alice))
        everything = await agents.ListProjects(apb.ListProjectsRequest(), metadata=OPERATOR_MD)
        await expect_error(
            agents.ListAgents(apb.ListAgentsRequest(project=second), metadata=md(alice)),
            grpc.StatusCode.NOT_FOUND,
            "PROJECT_NOT_FOUND",
        )
        await expect_error(
            agents.GetProject(apb.GetProjectRequest(slug=second), metadata=md(alice)),
            grpc.StatusCode.NOT_FOUND,
            "PROJECT_NOT_FOUND",
        )

        assert [p.slug for p in mine.projects] == [first]
        assert [p.slug for p in everything.projects] == [first, second]


async def test_an_operator_retires_and_brings_back_any_agent(tmp_path):
    async with (
        running_server(tmp_path / "d", archive=False) as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        slug, _ = await enrolled(agents, "/ret", "Alice", ())

        retired = await agents.RetireAgent(
            apb.RetireAgentRequest(project=slug, name="alice"), metadata=OPERATOR_MD
        )
        back = await agents.UnretireAgent(
            apb.UnretireAgentRequest(project=slug, name="Alice"), metadata=OPERATOR_MD
        )
        await expect_error(
            agents.RetireAgent(apb.RetireAgentRequest(name="Alice"), metadata=OPERATOR_MD),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            field="project",
        )

        assert retired.agent.HasField("retire_time")
        assert not back.agent.HasField("retire_time")


async def test_a_stream_opened_with_a_rotated_out_token_ends_when_its_overlap_does(tmp_path):
    clock = ManualClock()
    async with (
        running_server(tmp_path / "d", archive=False, clock=clock, heartbeat_seconds=0.1) as srv,
        open_channel(srv.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        _, old = await enrolled(agents, "/overlap", "Alice", ())
        await agents.RotateToken(apb.RotateTokenRequest(overlap_seconds=60), metadata=md(old))
        stream = mail.SubscribeInbox(mpb.SubscribeInboxRequest(), metadata=md(old))
        assert (await stream.read()).HasField("heartbeat")
        assert (await stream.read()).HasField("heartbeat")  # still valid within the overlap

        clock.advance(seconds=60)

        ended = None
        try:
            async with asyncio.timeout(20):
                while True:
                    await stream.read()
        except grpc.aio.AioRpcError as error:
            ended = error
        assert ended is not None and rpc_failure(ended).reason == "TOKEN_INVALID"
