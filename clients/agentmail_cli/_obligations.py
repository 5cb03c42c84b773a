"""Commands about what is owed to others: ``unacknowledged`` mail (acks you owe) and
``force-release`` of a reservation someone left behind.

``pending-acks`` (acks owed to you) lives with the other coordination commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._agents import PageSize, PageToken
from ._app import JsonFlag, app, invocation, with_client
from ._reading import print_inbox_items

if TYPE_CHECKING:
    from agentmail_client import AgentmailClient, ForceReleaseResult


@app.command()
def unacknowledged(
    ctx: typer.Context,
    limit: PageSize = 0,
    page_token: PageToken = "",
    as_json: JsonFlag = False,
) -> None:
    """List the mail that asked you for an acknowledgement you have not given, oldest
    first (`agentmail ack ID` takes one off the list)."""
    out = invocation(ctx).output(as_json)
    page = with_client(ctx)(
        lambda client: client.list_unacknowledged(
            page_size=limit, page_token=page_token, include_bodies=False
        )
    )
    if out.as_json:
        out.json(page)
        return
    print_inbox_items(out, page.items)
    out.next_page(page.next_page_token)


@app.command("force-release")
def force_release(
    ctx: typer.Context,
    reservation_id: Annotated[int, typer.Argument(min=1, help="The reservation's id.")],
    reason: Annotated[str, typer.Option(help="Why, recorded and sent to the holder.")] = "",
    operator: Annotated[
        bool,
        typer.Option(
            help="Act as an operator on the profile's project (any reservation, stale or not)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Release another agent's stale reservation (expired, or its holder idle past the
    server's threshold); the holder is told. Exits 5 while the holder is still active."""
    inv = invocation(ctx)
    out = inv.output(as_json)
    # An operator's client belongs to no project: the reservation's is named.
    project = inv.need(inv.profile().project, "project", "--project") if operator else ""

    async def call(client: AgentmailClient) -> ForceReleaseResult:
        return await client.force_release_reservation(
            reservation_id, reason=reason, project=project
        )

    result = with_client(ctx)(call)
    if out.as_json:
        out.json(result)
        return
    held = result.reservation
    out.line(f"Released #{held.id} {held.pattern} (held by {held.agent})")
    if result.notice_message_id:
        out.note(f"{held.agent} was told by message #{result.notice_message_id}")
