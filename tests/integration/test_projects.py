"""AgentService project calls: EnsureProject, GetProject, ListProjects."""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as pb
from conftest import OPERATOR_MD

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def ensure(agents, human_key: str):
    return await agents.EnsureProject(pb.EnsureProjectRequest(human_key=human_key))


async def test_ensure_project_creates_once_then_returns_the_same_project(agents):
    first = await ensure(agents, "/home/dev/Repo One")
    again = await ensure(agents, "/home/dev/Repo One")

    assert first.created is True
    assert again.created is False
    assert first.project.human_key == "/home/dev/Repo One"
    assert again.project == first.project
    assert first.project.HasField("create_time")
    got = await agents.GetProject(
        pb.GetProjectRequest(slug=first.project.slug), metadata=OPERATOR_MD
    )
    assert got.project == first.project


@pytest.mark.parametrize(
    ("human_key", "slug"),
    [
        ("/Users/Me/My Repo!!", "users-me-my-repo"),
        ("abc", "abc"),
        ("--Already--Slugged--", "already-slugged"),
        ("/srv/é日本/x", "srv-x"),
        ("!!!", "project"),
        ("a" * 100, "a" * 64),
    ],
)
async def test_ensure_project_derives_slug_from_human_key(agents, human_key, slug):
    response = await ensure(agents, human_key)

    assert response.project.slug == slug


async def test_ensure_project_slug_collision_appends_hash_of_human_key(agents):
    first = await ensure(agents, "a/b")
    second = await ensure(agents, "A-B")

    assert first.project.slug == "a-b"
    assert second.created is True
    assert second.project.slug == "a-b-" + hashlib.sha256(b"A-B").hexdigest()[:8]
    assert (await ensure(agents, "A-B")).project.slug == second.project.slug
    assert (await ensure(agents, "a/b")).project.slug == "a-b"


async def test_ensure_project_compares_human_key_exactly(agents):
    lower = await ensure(agents, "/repo/x")
    upper = await ensure(agents, "/REPO/X")

    assert upper.created is True
    assert upper.project.slug != lower.project.slug
    assert upper.project.human_key == "/REPO/X"


async def test_ensure_project_accepts_a_1024_character_key(agents):
    response = await ensure(agents, "k" * 1024)

    assert response.created is True
    assert response.project.human_key == "k" * 1024


async def test_ensure_project_rejects_empty_human_key(agents, expect_error):
    await expect_error(ensure(agents, ""), INVALID, "INVALID_ARGUMENT", field="human_key")


async def test_ensure_project_rejects_human_key_over_1024_characters(agents, expect_error):
    await expect_error(ensure(agents, "k" * 1025), INVALID, "INVALID_ARGUMENT", field="human_key")


async def test_get_project_of_unknown_slug_is_not_found(agents, expect_error):
    await expect_error(
        agents.GetProject(pb.GetProjectRequest(slug="no-such-project"), metadata=OPERATOR_MD),
        grpc.StatusCode.NOT_FOUND,
        "PROJECT_NOT_FOUND",
        metadata={"project": "no-such-project"},
    )


async def list_all_projects(agents, page_size: int) -> tuple[list[str], int]:
    slugs: list[str] = []
    token = ""
    for pages in range(1, 1001):
        page = await agents.ListProjects(
            pb.ListProjectsRequest(page_size=page_size, page_token=token), metadata=OPERATOR_MD
        )
        assert not page.next_page_token or page.next_page_token != token, "no progress"
        slugs += [p.slug for p in page.projects]
        assert len(page.projects) <= page_size
        if not page.next_page_token:
            return slugs, pages
        token = page.next_page_token
    raise AssertionError("project paging never ended")


async def test_list_projects_pages_in_creation_order(agents):
    keys = [f"/repo/zeta-{i}" if i % 2 else f"/repo/alpha-{i}" for i in range(7)]
    created = [(await ensure(agents, key)).project.slug for key in keys]

    slugs, pages = await list_all_projects(agents, page_size=3)

    assert slugs == created
    assert pages == 3


async def test_list_projects_default_page_size_is_50(agents):
    await asyncio.gather(*(ensure(agents, f"/p/{i}") for i in range(51)))

    page = await agents.ListProjects(pb.ListProjectsRequest(page_size=0), metadata=OPERATOR_MD)
    rest = await agents.ListProjects(
        pb.ListProjectsRequest(page_token=page.next_page_token), metadata=OPERATOR_MD
    )

    assert len(page.projects) == 50
    assert page.next_page_token
    assert len(rest.projects) == 1
    assert rest.next_page_token == ""


async def test_list_projects_clamps_page_size_to_500(agents):
    for start in range(0, 501, 50):
        await asyncio.gather(
            *(ensure(agents, f"/p/{i}") for i in range(start, min(start + 50, 501)))
        )

    page = await agents.ListProjects(
        pb.ListProjectsRequest(page_size=100_000), metadata=OPERATOR_MD
    )

    assert len(page.projects) == 500
    assert page.next_page_token


async def test_list_projects_rejects_negative_page_size(agents, expect_error):
    await expect_error(
        agents.ListProjects(pb.ListProjectsRequest(page_size=-1), metadata=OPERATOR_MD),
        INVALID,
        "INVALID_ARGUMENT",
        field="page_size",
    )


@pytest.mark.parametrize("token", ["garbage", "!!!", "AAAA", "x" * 500])
async def test_list_projects_rejects_garbage_page_token(agents, expect_error, token):
    await expect_error(
        agents.ListProjects(pb.ListProjectsRequest(page_token=token), metadata=OPERATOR_MD),
        INVALID,
        "INVALID_PAGE_TOKEN",
        field="page_token",
    )


async def test_get_project_without_slug_names_the_slug_field(agents, expect_error):
    await expect_error(
        agents.GetProject(pb.GetProjectRequest(slug=""), metadata=OPERATOR_MD),
        INVALID,
        "INVALID_ARGUMENT",
        field="slug",
    )


@pytest.mark.parametrize(
    "slug",
    [" ", "a\x00b", "proj-é", "../etc", "x" * 250],  # under the 256-byte clip of error metadata
    ids=["blank", "nul", "non-ascii", "path", "long"],
)
async def test_get_project_of_a_malformed_slug_is_not_found(agents, expect_error, slug):
    await ensure(agents, "/home/dev/real")

    await expect_error(
        agents.GetProject(pb.GetProjectRequest(slug=slug), metadata=OPERATOR_MD),
        grpc.StatusCode.NOT_FOUND,
        "PROJECT_NOT_FOUND",
        metadata={"project": slug},
    )


async def test_get_project_slugs_are_exact(agents, expect_error):
    slug = (await ensure(agents, "/home/dev/exact")).project.slug

    for near in (slug.upper(), f"{slug} ", f" {slug}"):
        await expect_error(
            agents.GetProject(pb.GetProjectRequest(slug=near), metadata=OPERATOR_MD),
            grpc.StatusCode.NOT_FOUND,
            "PROJECT_NOT_FOUND",
        )


async def test_get_project_of_a_huge_slug_is_a_detailed_error(agents, rpc_failure):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agents.GetProject(pb.GetProjectRequest(slug="x" * 20_000), metadata=OPERATOR_MD)

    failure = rpc_failure(caught.value)  # asserts the ErrorInfo (and BadRequest) shape
    assert failure.code in (INVALID, grpc.StatusCode.NOT_FOUND), failure
