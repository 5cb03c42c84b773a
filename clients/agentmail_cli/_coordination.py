"""Commands about coordination: file reservations, contacts, the contact policy, pending acks."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from ._agents import PageSize, PageToken
from ._app import JsonFlag, app, invocation, subapp, with_client
from ._exits import CliError, ExitCode
from ._output import Output, when

if TYPE_CHECKING:
    from agentmail_client import (
        Agent,
        AgentmailClient,
        Conflict,
        Contact,
        Reservation,
    )

contact_app = subapp("contact", "Ask for, approve or block contact with another agent.")


class PolicyChoice(enum.StrEnum):
    """``policy`` values (the client's ``ContactPolicy``)."""

    OPEN = "open"
    AUTO = "auto"
    CONTACTS_ONLY = "contacts_only"
    BLOCK_ALL = "block_all"


Ttl = Annotated[int, typer.Option("--ttl", min=0, help="Seconds until it lapses (0: default).")]


def _state(reservation: Reservation) -> str:
    if reservation.active:
        return "active"
    return "released" if reservation.release_time is not None else "expired"


def _reservation_rows(reservations: Sequence[Reservation]) -> list[tuple[str, ...]]:
    return [
        (
            str(r.id),
            r.agent,
            r.pattern,
            "exclusive" if r.exclusive else "shared",
            when(r.expire_time),
            _state(r),
            r.reason or "-",
        )
        for r in reservations
    ]


_RESERVATION_COLUMNS = ("id", "agent", "pattern", "kind", "expires", "state", "reason")


def conflict_rows(conflicts: Sequence[Conflict]) -> list[tuple[str, ...]]:
    """One row per holder of each conflicting path: path, holder, its pattern, kind, expiry."""
    return [
        (
            conflict.pattern,
            holder.agent,
            holder.pattern,
            "exclusive" if holder.exclusive else "shared",
            when(holder.expire_time),
        )
        for conflict in conflicts
        for holder in conflict.holders
    ]


CONFLICT_COLUMNS = ("path", "held by", "their pattern", "kind", "until")


def _print_reservations(out: Output, reservations: Sequence[Reservation], verb: str) -> None:
    if out.as_json:
        out.json({"reservations": reservations})
        return
    if not reservations:
        out.note(f"nothing {verb}")
        return
    out.table(_RESERVATION_COLUMNS, _reservation_rows(reservations))


@app.command()
def reserve(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Paths or glob patterns, from the repo root.")],
    shared: Annotated[bool, typer.Option(help="A shared (not exclusive) reservation.")] = False,
    ttl: Ttl = 0,
    reason: Annotated[str, typer.Option(help="Why, for the other agents.")] = "",
    all_or_nothing: Annotated[
        bool, typer.Option(help="Grant nothing when any path conflicts.")
    ] = False,
    advisory: Annotated[
        bool, typer.Option(help="Grant everything; only report the conflicts.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Reserve files; exits 5 when another agent's reservation refused some of them."""
    import agentmail_client as am  # noqa: PLC0415

    if all_or_nothing and advisory:
        raise CliError("--all-or-nothing and --advisory exclude each other", ExitCode.USAGE)
    mode = am.ReserveMode.DEFAULT
    if all_or_nothing:
        mode = am.ReserveMode.ALL_OR_NOTHING
    elif advisory:
        mode = am.ReserveMode.ADVISORY
    out = invocation(ctx).output(as_json)
    result = with_client(ctx)(
        lambda client: client.reserve_paths(
            paths, shared=shared, ttl_seconds=ttl, reason=reason, mode=mode
        )
    )
    if out.as_json:
        out.json(result)
    else:
        if result.granted:
            out.table(_RESERVATION_COLUMNS, _reservation_rows(result.granted), title="granted")
        if result.conflicts:
            out.line("Conflicts:", style="bold red")
            out.table(CONFLICT_COLUMNS, conflict_rows(result.conflicts))
    # Advisory mode grants everything: a reported conflict refused nothing.
    if result.conflicts and mode is not am.ReserveMode.ADVISORY:
        raise typer.Exit(ExitCode.CONFLICT)


def _ids_and_patterns(targets: Sequence[str]) -> tuple[list[int], list[str]]:
    ids = [int(t) for t in targets if t.isdigit()]
    return ids, [t for t in targets if not t.isdigit()]


Targets = Annotated[
    list[str] | None,
    typer.Argument(help="Reservation ids and/or the patterns they were made with."),
]


@app.command()
def release(
    ctx: typer.Context,
    targets: Targets = None,
    release_all: Annotated[bool, typer.Option("--all", help="All of your reservations.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Release your reservations (by id or pattern, or --all)."""
    if not targets and not release_all:
        raise CliError("name reservations (ids or patterns) or give --all", ExitCode.USAGE)
    ids, patterns = _ids_and_patterns(targets or ())
    out = invocation(ctx).output(as_json)
    released = with_client(ctx)(
        lambda client: client.release_reservations(ids=ids, patterns=patterns, all=release_all)
    )
    _print_reservations(out, released, "released")


@app.command()
def renew(
    ctx: typer.Context,
    targets: Targets = None,
    extend: Annotated[int, typer.Option(min=0, help="Seconds to add (0: default).")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Extend your reservations (by id or pattern)."""
    if not targets:
        raise CliError("name reservations to renew (ids or patterns)", ExitCode.USAGE)
    ids, patterns = _ids_and_patterns(targets)
    out = invocation(ctx).output(as_json)
    renewed = with_client(ctx)(
        lambda client: client.renew_reservations(ids=ids, patterns=patterns, extend_seconds=extend)
    )
    _print_reservations(out, renewed, "renewed")


@app.command()
def reservations(
    ctx: typer.Context,
    agent: Annotated[str, typer.Option("--holder", help="Only this agent's.")] = "",
    path: Annotated[str, typer.Option(help="Only those covering this path.")] = "",
    include_inactive: Annotated[bool, typer.Option(help="Also released and expired.")] = False,
    limit: PageSize = 0,
    page_token: PageToken = "",
    as_json: JsonFlag = False,
) -> None:
    """List the project's file reservations."""
    out = invocation(ctx).output(as_json)
    page = with_client(ctx)(
        lambda client: client.list_reservations(
            include_inactive=include_inactive,
            agent=agent,
            path=path,
            page_size=limit,
            page_token=page_token,
        )
    )
    if out.as_json:
        out.json(page)
        return
    out.table(_RESERVATION_COLUMNS, _reservation_rows(page.items))
    out.next_page(page.next_page_token)


def _contact_rows(contacts: Sequence[Contact]) -> list[tuple[str, ...]]:
    return [
        (c.from_agent, c.to_agent, c.state.value, when(c.expire_time), c.reason or "-")
        for c in contacts
    ]


_CONTACT_COLUMNS = ("from", "to", "state", "expires", "reason")


@app.command()
def contacts(
    ctx: typer.Context, limit: PageSize = 0, page_token: PageToken = "", as_json: JsonFlag = False
) -> None:
    """List your contact links (both directions)."""
    out = invocation(ctx).output(as_json)
    page = with_client(ctx)(
        lambda client: client.list_contacts(page_size=limit, page_token=page_token)
    )
    if out.as_json:
        out.json(page)
        return
    out.table(_CONTACT_COLUMNS, _contact_rows(page.items))
    out.next_page(page.next_page_token)


Other = Annotated[str, typer.Argument(help="The other agent.")]


@contact_app.command("request")
def contact_request(
    ctx: typer.Context,
    to_agent: Other,
    reason: Annotated[str, typer.Option(help="Why, shown to them.")] = "",
    ttl: Ttl = 0,
    as_json: JsonFlag = False,
) -> None:
    """Ask another agent to accept your mail."""
    out = invocation(ctx).output(as_json)
    result = with_client(ctx)(
        lambda client: client.request_contact(to_agent, reason=reason, ttl_seconds=ttl)
    )
    if out.as_json:
        out.json(result)
        return
    out.table(_CONTACT_COLUMNS, _contact_rows((result.contact,)))


def _respond(ctx: typer.Context, from_agent: str, approve: bool, ttl: int, as_json: bool) -> None:
    out = invocation(ctx).output(as_json)
    contact = with_client(ctx)(
        lambda client: client.respond_contact(from_agent, approve=approve, ttl_seconds=ttl)
    )
    if out.as_json:
        out.json(contact)
        return
    out.table(_CONTACT_COLUMNS, _contact_rows((contact,)))


@contact_app.command("approve")
def contact_approve(
    ctx: typer.Context, from_agent: Other, ttl: Ttl = 0, as_json: JsonFlag = False
) -> None:
    """Accept mail from an agent (answering its request, or before it asks)."""
    _respond(ctx, from_agent, True, ttl, as_json)


@contact_app.command("block")
def contact_block(ctx: typer.Context, from_agent: Other, as_json: JsonFlag = False) -> None:
    """Refuse mail from an agent."""
    _respond(ctx, from_agent, False, 0, as_json)


@app.command()
def policy(
    ctx: typer.Context,
    new_policy: Annotated[
        PolicyChoice | None, typer.Argument(help="Set it to this (default: show it).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show or set your contact policy (who may send you mail)."""
    import agentmail_client as am  # noqa: PLC0415

    inv = invocation(ctx)
    out = inv.output(as_json)
    profile = inv.profile()

    async def call(client: AgentmailClient) -> Agent:
        if new_policy is not None:
            return await client.set_contact_policy(am.ContactPolicy(new_policy.value))
        project = inv.need(profile.project, "project", "--project")
        return await client.get_agent(project, inv.need(profile.agent, "agent name", "--agent"))

    agent = with_client(ctx)(call)
    value = agent.contact_policy.value if agent.contact_policy else "server default"
    if out.as_json:
        out.json({"agent": agent.name, "policy": value})
        return
    out.line(f"{agent.name}: {value}")


@app.command("pending-acks")
def pending_acks(
    ctx: typer.Context,
    overdue: Annotated[bool, typer.Option(help="Only overdue ones.")] = False,
    overdue_seconds: Annotated[
        int | None, typer.Option(min=1, help="Overdue after SECONDS (default: the server's).")
    ] = None,
    limit: PageSize = 0,
    page_token: PageToken = "",
    as_json: JsonFlag = False,
) -> None:
    """List the messages you sent that still wait for acknowledgements."""
    out = invocation(ctx).output(as_json)
    page = with_client(ctx)(
        lambda client: client.list_pending_acks(
            page_size=limit,
            page_token=page_token,
            overdue_only=overdue,
            overdue_seconds=overdue_seconds,
            include_bodies=False,
        )
    )
    if out.as_json:
        out.json(page)
        return
    out.table(
        ("id", "subject", "sent", "waiting for", "acked", "overdue"),
        [
            (
                str(p.message.id),
                p.message.subject,
                when(p.message.create_time),
                ", ".join(r.recipient for r in p.pending),
                str(p.acknowledged_count),
                "yes" if p.overdue else "no",
            )
            for p in page.items
        ],
    )
    out.next_page(page.next_page_token)
