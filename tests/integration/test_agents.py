"""AgentService agent calls: RegisterAgent, GetAgent, ListAgents, UpdateAgent."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as pb
from agentmail.v1 import types_pb2
from conftest import OPERATOR_MD
from google.protobuf import field_mask_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def registration(project: str, name: str, **profile: str) -> pb.RegisterAgentRequest:
    return pb.RegisterAgentRequest(project=project, name=name, **profile)


async def test_register_agent_creates_agent_with_fresh_token(agents, project):
    response = await agents.RegisterAgent(
        registration(project, "Builder", program="claude-code", model="opus", task_description="t")
    )

    assert response.created is True
    assert response.agent_token.startswith("am_")
    assert len(response.agent_token) > len("am_") + 16
    agent = response.agent
    assert (agent.project, agent.name, agent.program, agent.model, agent.task_description) == (
        project,
        "Builder",
        "claude-code",
        "opus",
        "t",
    )
    assert agent.HasField("create_time")
    other = await agents.RegisterAgent(registration(project, "Other"))
    assert other.agent_token != response.agent_token


async def test_get_agent_returns_profile_without_token(agents, project):
    registered = await agents.RegisterAgent(
        registration(project, "Reader", program="p", model="m", task_description="read things")
    )

    got = await agents.GetAgent(
        pb.GetAgentRequest(project=project, name="Reader"), metadata=OPERATOR_MD
    )
    listed = await agents.ListAgents(pb.ListAgentsRequest(project=project), metadata=OPERATOR_MD)

    updated = await agents.UpdateAgent(
        pb.UpdateAgentRequest(agent=types_pb2.Agent(model="m2")),
        metadata=(("authorization", f"Bearer {registered.agent_token}"),),
    )

    assert got.agent == registered.agent
    assert list(listed.agents) == [registered.agent]
    for message in (registered.agent, got, listed, updated):
        assert registered.agent_token.encode() not in message.SerializeToString()


async def test_get_agent_is_case_insensitive_and_keeps_display_case(agents, project):
    await agents.RegisterAgent(registration(project, "MixedCase"))

    got = await agents.GetAgent(
        pb.GetAgentRequest(project=project, name="mIXEDcASE"), metadata=OPERATOR_MD
    )

    assert got.agent.name == "MixedCase"


async def test_get_agent_of_unknown_name_is_not_found(agents, project, expect_error):
    await expect_error(
        agents.GetAgent(pb.GetAgentRequest(project=project, name="Ghost"), metadata=OPERATOR_MD),
        NOT_FOUND,
        "AGENT_NOT_FOUND",
        metadata={"name": "Ghost"},
    )


@pytest.mark.parametrize(
    ("project_slug", "name", "field"),
    [("", "", "name"), ("", "Alice", "project"), ("PROJECT", "", "name"), ("nowhere", "", "name")],
    ids=["neither", "no-project", "no-name", "no-name-unknown-project"],
)
async def test_get_agent_requires_project_and_name(
    agents, project, alice, expect_error, project_slug, name, field
):
    slug = project if project_slug == "PROJECT" else project_slug

    await expect_error(
        agents.GetAgent(pb.GetAgentRequest(project=slug, name=name), metadata=OPERATOR_MD),
        INVALID,
        "INVALID_ARGUMENT",
        field=field,
    )


async def test_get_agent_in_unknown_project_is_not_found(agents, expect_error):
    await expect_error(
        agents.GetAgent(pb.GetAgentRequest(project="nowhere", name="Alice"), metadata=OPERATOR_MD),
        NOT_FOUND,
        "PROJECT_NOT_FOUND",
        metadata={"project": "nowhere"},
    )


@pytest.mark.parametrize(
    "name",
    [
        "a b",
        "Al\x00ice",
        " Alice",
        "Alice ",
        "../Alice",
        "Ålice",
        "x" * 250,
    ],  # under the 256-byte clip of error metadata
    ids=["space", "nul", "leading-space", "trailing-space", "path", "non-ascii", "long"],
)
async def test_get_agent_of_a_malformed_name_is_not_found(
    agents, project, alice, expect_error, name
):
    await expect_error(
        agents.GetAgent(pb.GetAgentRequest(project=project, name=name), metadata=OPERATOR_MD),
        NOT_FOUND,
        "AGENT_NOT_FOUND",
        metadata={"name": name, "project": project},
    )


async def test_get_agent_of_a_huge_name_is_a_detailed_error(agents, project, rpc_failure):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agents.GetAgent(
            pb.GetAgentRequest(project=project, name="x" * 20_000), metadata=OPERATOR_MD
        )

    failure = rpc_failure(caught.value)  # asserts the ErrorInfo (and BadRequest) shape
    assert failure.code in (INVALID, NOT_FOUND), failure


async def test_register_agent_in_unknown_project_is_not_found(agents, expect_error):
    await expect_error(
        agents.RegisterAgent(registration("nowhere", "Alice")),
        NOT_FOUND,
        "PROJECT_NOT_FOUND",
        metadata={"project": "nowhere"},
    )


@pytest.mark.parametrize("name", ["A", "a" * 64, "A_b-9", "z0"])
async def test_register_agent_accepts_valid_names(agents, project, name):
    response = await agents.RegisterAgent(registration(project, name))

    assert response.agent.name == name


@pytest.mark.parametrize(
    "name", ["", "1abc", "_abc", "-abc", "a b", "a.b", "a" * 65, "Zoë", "a\u0000b", "a/b"]
)
async def test_register_agent_rejects_invalid_names(agents, project, expect_error, name):
    await expect_error(
        agents.RegisterAgent(registration(project, name)),
        INVALID,
        "INVALID_AGENT_NAME",
        field="name",
    )


@pytest.mark.parametrize(
    ("field", "limit"), [("program", 128), ("model", 128), ("task_description", 4096)]
)
async def test_register_agent_limits_profile_lengths(agents, project, expect_error, field, limit):
    ok = await agents.RegisterAgent(registration(project, "Fits", **{field: "x" * limit}))
    assert getattr(ok.agent, field) == "x" * limit

    await expect_error(
        agents.RegisterAgent(registration(project, "TooLong", **{field: "x" * (limit + 1)})),
        INVALID,
        "INVALID_ARGUMENT",
        field=field,
    )


@pytest.mark.parametrize("again", ["Alice", "alice", "ALICE"])
async def test_register_existing_name_without_token_already_exists(
    agents, project, expect_error, again
):
    await agents.RegisterAgent(registration(project, "Alice"))

    await expect_error(
        agents.RegisterAgent(registration(project, again)),
        grpc.StatusCode.ALREADY_EXISTS,
        "AGENT_EXISTS",
    )


async def test_reregister_with_own_token_updates_profile_and_keeps_token(agents, project, md):
    first = await agents.RegisterAgent(
        registration(project, "Alice", program="p1", model="m1", task_description="d1")
    )

    again = await agents.RegisterAgent(
        registration(project, "ALICE", program="p2", model="", task_description="d2"),
        metadata=md(first.agent_token),
    )

    assert again.created is False
    assert again.agent_token == first.agent_token
    assert again.agent.name == "Alice"
    assert (again.agent.program, again.agent.model, again.agent.task_description) == (
        "p2",
        "",
        "d2",
    )
    got = await agents.GetAgent(
        pb.GetAgentRequest(project=project, name="alice"), metadata=OPERATOR_MD
    )
    assert got.agent.program == "p2"
    assert got.agent.model == ""
    assert got.agent.create_time == first.agent.create_time


async def test_reregister_with_another_agents_token_is_denied(agents, project, md, expect_error):
    await agents.RegisterAgent(registration(project, "Alice", program="p1"))
    bob = await agents.RegisterAgent(registration(project, "Bob"))

    await expect_error(
        agents.RegisterAgent(
            registration(project, "alice", program="stolen"), metadata=md(bob.agent_token)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_AGENT_OWNER",
    )
    got = await agents.GetAgent(
        pb.GetAgentRequest(project=project, name="Alice"), metadata=OPERATOR_MD
    )
    assert got.agent.program == "p1"


async def test_reregister_with_unknown_token_is_unauthenticated(agents, project, md, expect_error):
    await agents.RegisterAgent(registration(project, "Alice"))

    await expect_error(
        agents.RegisterAgent(registration(project, "Alice"), metadata=md("am_not-a-real-token")),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_INVALID",
    )


async def test_same_name_may_exist_in_two_projects(agents, make_project):
    first = await make_project("/one")
    second = await make_project("/two")

    a = await agents.RegisterAgent(registration(first, "Alice"))
    b = await agents.RegisterAgent(registration(second, "alice"))

    assert a.created and b.created
    assert (a.agent.project, b.agent.project) == (first, second)
    assert b.agent.name == "alice"
    assert a.agent_token != b.agent_token


async def list_all_agents(agents, project: str, page_size: int) -> tuple[list[str], int]:
    names: list[str] = []
    token = ""
    for pages in range(1, 1001):
        page = await agents.ListAgents(
            pb.ListAgentsRequest(project=project, page_size=page_size, page_token=token),
            metadata=OPERATOR_MD,
        )
        assert not page.next_page_token or page.next_page_token != token, "no progress"
        assert len(page.agents) <= page_size
        names += [a.name for a in page.agents]
        if not page.next_page_token:
            return names, pages
        token = page.next_page_token
    raise AssertionError("agent paging never ended")


async def test_list_agents_pages_in_registration_order(agents, project, make_project):
    order = ["Zed", "amy", "Mia", "bo", "Carl"]
    for name in order:
        await agents.RegisterAgent(registration(project, name))
    other = await make_project("/elsewhere")
    await agents.RegisterAgent(registration(other, "Intruder"))

    names, pages = await list_all_agents(agents, project, page_size=2)

    assert names == order
    assert pages == 3


async def register_many(agents, project: str, count: int) -> None:
    for start in range(0, count, 50):
        await asyncio.gather(
            *(
                agents.RegisterAgent(registration(project, f"agent{i}"))
                for i in range(start, min(start + 50, count))
            )
        )


async def test_list_agents_default_page_size_is_100(agents, project):
    await register_many(agents, project, 101)

    page = await agents.ListAgents(pb.ListAgentsRequest(project=project), metadata=OPERATOR_MD)

    assert len(page.agents) == 100
    assert page.next_page_token
    rest = await agents.ListAgents(
        pb.ListAgentsRequest(project=project, page_token=page.next_page_token), metadata=OPERATOR_MD
    )
    assert len(rest.agents) == 1
    assert rest.next_page_token == ""


async def test_list_agents_clamps_page_size_to_1000(agents, project):
    await register_many(agents, project, 1001)

    page = await agents.ListAgents(
        pb.ListAgentsRequest(project=project, page_size=5000), metadata=OPERATOR_MD
    )

    assert len(page.agents) == 1000
    assert page.next_page_token
    assert len({a.name for a in page.agents}) == 1000


async def test_list_agents_rejects_negative_page_size(agents, project, expect_error):
    await expect_error(
        agents.ListAgents(
            pb.ListAgentsRequest(project=project, page_size=-5), metadata=OPERATOR_MD
        ),
        INVALID,
        "INVALID_ARGUMENT",
        field="page_size",
    )


@pytest.mark.parametrize("token", ["garbage", "%%%", "AAAA"])
async def test_list_agents_rejects_garbage_page_token(agents, project, expect_error, token):
    await expect_error(
        agents.ListAgents(
            pb.ListAgentsRequest(project=project, page_token=token), metadata=OPERATOR_MD
        ),
        INVALID,
        "INVALID_PAGE_TOKEN",
        field="page_token",
    )


def update(agent: types_pb2.Agent, *paths: str) -> pb.UpdateAgentRequest:
    return pb.UpdateAgentRequest(agent=agent, update_mask=field_mask_pb2.FieldMask(paths=paths))


async def register_full(agents, project: str, name: str):
    return await agents.RegisterAgent(
        registration(project, name, program="p0", model="m0", task_description="d0")
    )


async def test_update_agent_changes_only_masked_fields(agents, project, md):
    alice = await register_full(agents, project, "Alice")
    change = types_pb2.Agent(program="p1", model="m1", task_description="d1")

    response = await agents.UpdateAgent(update(change, "model"), metadata=md(alice.agent_token))

    assert (response.agent.program, response.agent.model, response.agent.task_description) == (
        "p0",
        "m1",
        "d0",
    )
    assert response.agent.name == "Alice"
    assert response.agent.update_time.ToNanoseconds() > alice.agent.update_time.ToNanoseconds()
    got = await agents.GetAgent(
        pb.GetAgentRequest(project=project, name="Alice"), metadata=OPERATOR_MD
    )
    assert got.agent == response.agent


async def test_update_agent_with_empty_mask_replaces_all_three_fields(agents, project, md):
    alice = await register_full(agents, project, "Alice")
    change = types_pb2.Agent(program="p1", model="", task_description="d1")

    response = await agents.UpdateAgent(update(change), metadata=md(alice.agent_token))

    assert (response.agent.program, response.agent.model, response.agent.task_description) == (
        "p1",
        "",
        "d1",
    )
    assert response.agent.update_time.ToNanoseconds() > alice.agent.update_time.ToNanoseconds()


async def test_update_agent_update_time_advances_on_each_update(agents, project, md):
    alice = await register_full(agents, project, "Alice")
    times = [alice.agent.update_time.ToNanoseconds()]
    for i in range(3):
        response = await agents.UpdateAgent(
            update(types_pb2.Agent(program=f"p{i}"), "program"), metadata=md(alice.agent_token)
        )
        times.append(response.agent.update_time.ToNanoseconds())

    assert times == sorted(set(times))


async def test_update_agent_accepts_own_name_and_project_in_any_case(agents, project, md):
    alice = await register_full(agents, project, "Alice")
    change = types_pb2.Agent(project=project, name="aLiCe", program="p9")

    response = await agents.UpdateAgent(update(change, "program"), metadata=md(alice.agent_token))

    assert response.agent.program == "p9"
    assert response.agent.name == "Alice"


@pytest.mark.parametrize("target", [{"name": "Bob"}, {"project": "other-project"}])
async def test_update_agent_naming_someone_else_is_not_self(
    agents, project, make_project, md, expect_error, target
):
    alice = await register_full(agents, project, "Alice")
    await register_full(agents, project, "Bob")
    await make_project("/other/project")

    await expect_error(
        agents.UpdateAgent(
            update(types_pb2.Agent(program="x", **target), "program"),
            metadata=md(alice.agent_token),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_SELF",
    )
    bob = await agents.GetAgent(
        pb.GetAgentRequest(project=project, name="Bob"), metadata=OPERATOR_MD
    )
    assert bob.agent.program == "p0"


@pytest.mark.parametrize("paths", [["name"], ["program", "project"], ["create_time"], ["bogus"]])
async def test_update_agent_rejects_unknown_mask_paths(agents, project, md, expect_error, paths):
    alice = await register_full(agents, project, "Alice")

    await expect_error(
        agents.UpdateAgent(
            update(types_pb2.Agent(program="x"), *paths), metadata=md(alice.agent_token)
        ),
        INVALID,
        "INVALID_ARGUMENT",
        field="update_mask",
    )
    got = await agents.GetAgent(
        pb.GetAgentRequest(project=project, name="Alice"), metadata=OPERATOR_MD
    )
    assert got.agent.program == "p0"
