"""Commands about projects and agents: ``project ensure|list``, ``register``, ``whoami``,
``agents``."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import TYPE_CHECKING, Annotated

import typer

from ._app import JsonFlag, app, invocation, run, subapp, with_client
from ._output import Output, jsonable, when
from ._settings import remember_profile, write_token

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from agentmail_client import Agent, AgentmailClient, Page, Project

project_app = subapp("project", "Create and list projects.")

PageSize = Annotated[int, typer.Option("--limit", min=0, help="Most items (0: server default).")]
PageToken = Annotated[str, typer.Option("--page-token", help="Continue after a previous page.")]


def _print_projects(out: Output, projects: tuple[Project, ...]) -> None:
    out.table(
        ("slug", "human key", "created"),
        [(p.slug, p.human_key, when(p.create_time)) for p in projects],
    )


@project_app.command("ensure")
def project_ensure(
    ctx: typer.Context,
    human_key: Annotated[
        str | None,
        typer.Argument(help="What identifies the project (default: this folder's absolute path)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create the project of HUMAN_KEY, or return the existing one; prints its slug."""
    out = invocation(ctx).output(as_json)
    key = human_key or str(pathlib.Path.cwd().resolve())
    result = with_client(ctx, token=False)(lambda client: client.ensure_project(key))
    if out.as_json:
        out.json(result)
        return
    out.line(result.project.slug)
    out.note(f"{'created' if result.created else 'exists'}: {result.project.human_key}")


@project_app.command("list")
def project_list(
    ctx: typer.Context, limit: PageSize = 0, page_token: PageToken = "", as_json: JsonFlag = False
) -> None:
    """List projects (as the server lets this agent see them)."""
    inv = invocation(ctx)
    out = inv.output(as_json)
    page = with_client(ctx, token=False)(
        lambda client: client.list_projects(page_size=limit, page_token=page_token)
    )
    if out.as_json:
        out.json(page)
        return
    _print_projects(out, page.items)
    out.next_page(page.next_page_token)


@app.command()
def register(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="The agent's name (default: the profile's agent).")
    ] = None,
    program: Annotated[str, typer.Option(help="The program the agent runs in.")] = "",
    model: Annotated[str, typer.Option(help="The model behind the agent.")] = "",
    task: Annotated[str, typer.Option(help="What the agent is working on.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Register (or re-register) an agent in the project; store its token (0600) and profile.

    Re-registering an agent whose token the profile holds updates its profile and keeps the
    name; the token is never printed.
    """
    inv = invocation(ctx)
    out = inv.output(as_json)
    profile = inv.profile()
    project = inv.need(profile.project, "project", "--project")
    agent = inv.need(name or profile.agent, "agent name", "--agent")
    existing = inv.token(required=False)

    # The token is written before anything is printed: a registration is only done once kept.
    secret: list[str] = []

    async def call_keeping_token() -> tuple[object, bool]:
        async with inv.client(token=existing) as client:
            result = await client.register_agent(
                project, agent, program=program, model=model, task_description=task
            )
            secret.append(result.token)
            return result.agent, result.created

    registered, created = run(call_keeping_token)
    write_token(profile.token_file, secret[0])
    written = remember_profile(dataclasses.replace(profile, project=project, agent=agent))
    if out.as_json:
        out.json(
            {
                "agent": jsonable(registered),
                "created": created,
                "tokenFile": str(profile.token_file),
                "profile": profile.name,
                "configFile": str(written) if written else None,
            }
        )
        return
    out.line(f"{'Registered' if created else 'Re-registered'} {agent} in {project}")
    out.note(f"token saved to {profile.token_file}")
    if written:
        out.note(f"profile {profile.name!r} saved to {written}")


def _agent_rows(agents: tuple[Agent, ...]) -> list[tuple[str, ...]]:
    return [
        (
            a.name,
            a.program or "-",
            a.model or "-",
            a.status or "-",
            when(a.last_active_time),
            "retired" if a.retired else (a.contact_policy.value if a.contact_policy else "-"),
            a.task_description or "-",
        )
        for a in agents
    ]


_AGENT_COLUMNS = ("name", "program", "model", "status", "last active", "policy", "task")


@app.command()
def whoami(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the profile in use and the server's record of its agent."""
    inv = invocation(ctx)
    out = inv.output(as_json)
    profile = inv.profile()
    project = inv.need(profile.project, "project", "--project")
    name = inv.need(profile.agent, "agent name", "--agent")
    agent = with_client(ctx)(lambda client: client.get_agent(project, name))
    settings = {
        "profile": profile.name,
        "address": profile.address,
        "project": project,
        "agent": name,
        "tokenFile": str(profile.token_file),
        "tls": profile.uses_tls,
    }
    if out.as_json:
        out.json({**settings, "record": jsonable(agent)})
        return
    out.fields([(key, str(value)) for key, value in settings.items()])
    out.line()
    out.table(_AGENT_COLUMNS, _agent_rows((agent,)))


@app.command()
def agents(
    ctx: typer.Context,
    active_within: Annotated[
        int, typer.Option(min=0, help="Only agents active in the last SECONDS (0: all).")
    ] = 0,
    include_retired: Annotated[bool, typer.Option(help="Also retired agents.")] = False,
    limit: PageSize = 0,
    page_token: PageToken = "",
    as_json: JsonFlag = False,
) -> None:
    """List the project's agents."""
    inv = invocation(ctx)
    out = inv.output(as_json)
    project = inv.need(inv.profile().project, "project", "--project")

    def call(client: AgentmailClient) -> Awaitable[Page[Agent]]:
        return client.list_agents(
            project,
            page_size=limit,
            page_token=page_token,
            active_within_seconds=active_within,
            include_retired=include_retired,
        )

    page = with_client(ctx, token=False)(call)
    if out.as_json:
        out.json(page)
        return
    out.table(_AGENT_COLUMNS, _agent_rows(page.items))
    out.next_page(page.next_page_token)


@app.command("rotate-token")
def rotate_token(
    ctx: typer.Context,
    overlap: Annotated[
        int,
        typer.Option(min=0, max=3600, help="Seconds the previous token keeps working (0: none)."),
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Replace the agent's token with a new one, kept in the profile's token file (0600)."""
    inv = invocation(ctx)
    out = inv.output(as_json)
    path = inv.profile().token_file
    # Not retried by the client: a lost answer would leave a token nobody knows.
    token = with_client(ctx)(lambda client: client.rotate_token(overlap_seconds=overlap))
    write_token(path, token)
    if out.as_json:
        out.json({"tokenFile": str(path), "overlapSeconds": overlap})
        return
    out.line(f"Rotated the token of profile {inv.profile().name!r}")
    out.note(f"new token saved to {path}")
