"""Commands that read mail: ``inbox``, ``read``, ``ack``, ``thread``, ``summary``, ``search``."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from ._agents import PageSize, PageToken
from ._app import JsonFlag, app, invocation, with_client
from ._output import Output, when

if TYPE_CHECKING:
    from agentmail_client import AgentmailClient, GetMessageResult, InboxItem, Message


class ScopeChoice(enum.StrEnum):
    """``search --scope`` values (the client's ``SearchScope``)."""

    ALL = "all"
    SENT = "sent"
    RECEIVED = "received"


class OrderChoice(enum.StrEnum):
    """``search --order`` values (the client's ``SearchOrder``)."""

    RELEVANCE = "relevance"
    NEWEST = "newest"


NoBodies = Annotated[bool, typer.Option("--no-bodies", help="Leave bodies out.")]


def _flags(item: InboxItem) -> str:
    marks = []
    if item.message.ack_required:
        marks.append("acked" if item.ack_time else "ack!")
    marks.append("read" if item.read_time else "new")
    return ",".join(marks)


@app.command()
def inbox(
    ctx: typer.Context,
    unread: Annotated[bool, typer.Option(help="Only unread mail.")] = False,
    urgent: Annotated[bool, typer.Option(help="Only HIGH and URGENT mail.")] = False,
    topic: Annotated[str, typer.Option(help="Only this topic.")] = "",
    thread: Annotated[str, typer.Option(help="Only this thread.")] = "",
    newest_first: Annotated[bool, typer.Option(help="Newest first.")] = False,
    no_bodies: NoBodies = False,
    limit: PageSize = 0,
    page_token: PageToken = "",
    as_json: JsonFlag = False,
) -> None:
    """List the inbox, a page at a time (the next page's token is printed on stderr)."""
    import agentmail_client as am  # noqa: PLC0415

    out = invocation(ctx).output(as_json)
    order = am.InboxOrder.NEWEST_FIRST if newest_first else am.InboxOrder.OLDEST_FIRST
    page = with_client(ctx)(
        lambda client: client.list_inbox(
            page_size=limit,
            page_token=page_token,
            order=order,
            unread_only=unread,
            urgent_only=urgent,
            topic=topic,
            thread_id=thread,
            include_bodies=not no_bodies,
        )
    )
    if out.as_json:
        out.json(page)
        return
    print_inbox_items(out, page.items)
    out.next_page(page.next_page_token)


def print_inbox_items(out: Output, items: Sequence[InboxItem]) -> None:
    """Inbox items as a table: id, sender, subject, importance, sent, state (read, ack)."""
    out.table(
        ("id", "from", "subject", "importance", "sent", "state"),
        [
            (
                str(item.message.id),
                item.message.sender,
                item.message.subject,
                item.message.importance.value,
                when(item.message.create_time),
                _flags(item),
            )
            for item in items
        ],
    )


def print_message(out: Output, message: Message) -> None:
    """A message as headers, a blank line and its body."""
    pairs = [("id", str(message.id)), ("from", message.sender)]
    for label, group in (("to", message.to), ("cc", message.cc), ("bcc", message.bcc)):
        if group:
            pairs.append((label, ", ".join(group)))
    pairs += [
        ("subject", message.subject),
        ("thread", message.thread_id),
        ("importance", message.importance.value),
        ("sent", when(message.create_time)),
    ]
    if message.topic:
        pairs.append(("topic", message.topic))
    if message.ack_required:
        pairs.append(("ack", "required"))
    out.fields(pairs)
    out.line()
    out.line(message.body)


@app.command()
def read(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(help="The message.")],
    mark: Annotated[bool, typer.Option(help="Mark it read.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Show a message (and mark it read, unless --no-mark)."""
    out = invocation(ctx).output(as_json)

    async def call(client: AgentmailClient) -> GetMessageResult:
        result = await client.get_message(message_id)
        if mark and result.delivery is not None and result.delivery.read_time is None:
            await client.mark_read(message_id)
        return result

    result = with_client(ctx)(call)
    if out.as_json:
        out.json(result)
        return
    print_message(out, result.message)


@app.command()
def ack(
    ctx: typer.Context,
    message_ids: Annotated[list[int], typer.Argument(help="The messages.")],
    as_json: JsonFlag = False,
) -> None:
    """Acknowledge messages (which also marks them read)."""
    out = invocation(ctx).output(as_json)
    states = with_client(ctx)(lambda client: client.acknowledge_message(message_ids))
    if out.as_json:
        out.json({"deliveries": states})
        return
    for state in states:
        out.line(f"Acknowledged #{state.message_id} at {when(state.ack_time)}")


@app.command()
def thread(
    ctx: typer.Context,
    thread_id: Annotated[str, typer.Argument(help="The thread.")],
    no_bodies: NoBodies = False,
    limit: PageSize = 0,
    page_token: PageToken = "",
    as_json: JsonFlag = False,
) -> None:
    """Show a thread's messages, oldest first."""
    out = invocation(ctx).output(as_json)
    page = with_client(ctx)(
        lambda client: client.get_thread(
            thread_id, page_size=limit, page_token=page_token, include_bodies=not no_bodies
        )
    )
    if out.as_json:
        out.json(page)
        return
    for index, message in enumerate(page.items):
        if index:
            out.line("-" * 40)
        print_message(out, message)
    out.next_page(page.next_page_token)


@app.command()
def summary(
    ctx: typer.Context,
    thread_id: Annotated[str, typer.Argument(help="The thread.")],
    recent: Annotated[int, typer.Option(min=0, help="How many recent messages to include.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Summarise a thread: participants, counts, action items."""
    out = invocation(ctx).output(as_json)
    found = with_client(ctx)(lambda client: client.summarize_thread(thread_id, recent_count=recent))
    if out.as_json:
        out.json(found)
        return
    out.fields(
        [
            ("thread", found.thread_id),
            ("subject", found.subject),
            ("participants", ", ".join(found.participants)),
            ("messages", str(found.message_count)),
            ("first", when(found.first_time)),
            ("last", when(found.last_time)),
        ]
    )
    if found.action_items:
        out.line()
        out.table(
            ("message", "author", "kind", "text"),
            [(str(a.message_id), a.author, a.kind, a.text) for a in found.action_items],
        )
    for message in found.recent_messages:
        out.line()
        print_message(out, message)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Full-text query (FTS5 syntax).")],
    sender: Annotated[str, typer.Option("--from", help="Only from this agent.")] = "",
    recipient: Annotated[str, typer.Option("--to", help="Only to this agent.")] = "",
    thread: Annotated[str, typer.Option(help="Only this thread.")] = "",
    topic: Annotated[str, typer.Option(help="Only this topic.")] = "",
    scope: Annotated[ScopeChoice, typer.Option(help="Which side of your mail.")] = ScopeChoice.ALL,
    order: Annotated[OrderChoice, typer.Option(help="Result order.")] = OrderChoice.RELEVANCE,
    no_bodies: NoBodies = False,
    limit: PageSize = 0,
    page_token: PageToken = "",
    as_json: JsonFlag = False,
) -> None:
    """Search the mail you sent or received."""
    import agentmail_client as am  # noqa: PLC0415

    out = invocation(ctx).output(as_json)
    page = with_client(ctx)(
        lambda client: client.search_messages(
            query,
            page_size=limit,
            page_token=page_token,
            order=am.SearchOrder(order.value),
            scope=am.SearchScope(scope.value),
            sender=sender,
            recipient=recipient,
            thread_id=thread,
            topic=topic,
            include_bodies=not no_bodies,
        )
    )
    if out.as_json:
        out.json(page)
        return
    out.table(
        ("id", "from", "subject", "sent", "snippet"),
        [
            (
                str(hit.message.id),
                hit.message.sender,
                hit.message.subject,
                when(hit.message.create_time),
                hit.snippet.replace("\n", " "),
            )
            for hit in page.items
        ],
    )
    out.next_page(page.next_page_token)
