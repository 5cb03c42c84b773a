"""Commands that change an agent's standing: ``retire``, ``unretire``, ``revoke-tokens``.

An agent retires or brings back itself; an operator (a client acting with an operator token,
given as ``--token-file``) names any agent of the profile's project. ``revoke-tokens`` is the
operator's emergency brake for a leaked token: every token of the agent stops working at once.
A new token, when asked for, goes straight into a 0600 file and is never printed: a token
must not end up in a terminal's scrollback or a CI log.
"""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING, Annotated

import typer

from ._app import JsonFlag, app, invocation, with_client
from ._output import jsonable
from ._settings import write_token

if TYPE_CHECKING:
    from agentmail_client import Agent, AgentmailClient

OtherAgent = Annotated[
    str | None,
    typer.Argument(help="Another agent of the profile's project (operators only; default: you)."),
]


def _change(ctx: typer.Context, name: str | None, retire: bool, as_json: bool) -> None:
    inv = invocation(ctx)
    out = inv.output(as_json)
    # Naming an agent names its project too: the profile's.
    project = inv.need(inv.profile().project, "project", "--project") if name else ""

    async def call(client: AgentmailClient) -> Agent:
        change = client.retire_agent if retire else client.unretire_agent
        return await change(project=project, name=name or "")

    agent = with_client(ctx)(call)
    if out.as_json:
        out.json(jsonable(agent))
        return
    state = "retired" if agent.retired else "active"
    out.line(f"{agent.name}: {state}")


@app.command()
def retire(ctx: typer.Context, name: OtherAgent = None, as_json: JsonFlag = False) -> None:
    """Retire yourself (or, as an operator, the agent NAME): it receives nothing more,
    broadcasts skip it and its reservations are released. Undo with `unretire`."""
    _change(ctx, name, True, as_json)


@app.command()
def unretire(ctx: typer.Context, name: OtherAgent = None, as_json: JsonFlag = False) -> None:
    """Bring yourself (or, as an operator, the agent NAME) back from retirement."""
    _change(ctx, name, False, as_json)


@app.command("revoke-tokens")
def revoke_tokens(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent, in the profile's project.")],
    new_token_file: Annotated[
        pathlib.Path | None,
        typer.Option(
            help="Also issue one new token and store it in this file (0600); it is never printed."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke every token of an agent at once, ending its open streams (operator only)."""
    inv = invocation(ctx)
    out = inv.output(as_json)
    project = inv.need(inv.profile().project, "project", "--project")
    result = with_client(ctx)(
        lambda client: client.revoke_tokens(
            project, name, issue_new_token=new_token_file is not None
        )
    )
    if new_token_file is not None and result.token is not None:
        write_token(new_token_file, result.token)
    saved = str(new_token_file) if new_token_file is not None else None
    if out.as_json:
        out.json({"agent": name, "revoked": result.revoked, "tokenFile": saved})
        return
    out.line(f"Revoked {result.revoked} token{'s' if result.revoked != 1 else ''} of {name}")
    if saved:
        out.note(f"new token saved to {saved}")
