"""Commands that write mail: ``send`` and ``reply``."""

from __future__ import annotations

import enum
import pathlib
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from ._app import JsonFlag, app, invocation, with_client
from ._exits import CliError, ExitCode
from ._output import Output

if TYPE_CHECKING:
    from agentmail_client import Importance as ClientImportance
    from agentmail_client import (
        SendMessageResult,
    )


class ImportanceChoice(enum.StrEnum):
    """``--importance`` values (the client's ``Importance``)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


Recipients = Annotated[
    list[str] | None, typer.Option(help="Recipient (repeat it, or separate names with commas).")
]
BodyArgument = Annotated[
    str | None, typer.Argument(help="The body; '-' reads it from stdin (default: empty).")
]
BodyFile = Annotated[
    pathlib.Path | None,
    typer.Option("--file", "-f", help="Read the body from this file.", dir_okay=False),
]
ImportanceOption = Annotated[
    ImportanceChoice | None, typer.Option(help="How much attention it asks.")
]
AckRequired = Annotated[bool, typer.Option(help="Ask the recipients to acknowledge it.")]
IdempotencyKey = Annotated[
    str | None,
    typer.Option(
        help="Key making a retried send safe; the same key never sends twice "
        "(default: a new one per invocation)."
    ),
]


def names(values: Sequence[str] | None) -> list[str]:
    """Names given as repeated options and/or comma-separated lists."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


def read_body(argument: str | None, file: pathlib.Path | None) -> str:
    """The body from the argument, ``-`` (stdin) or ``--file``; a usage error for two."""
    if argument is not None and file is not None:
        raise CliError("give the body as an argument or --file, not both", ExitCode.USAGE)
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read {file}: {exc}", ExitCode.USAGE) from None
    if argument == "-":
        return sys.stdin.read()
    return argument or ""


def _importance(choice: ImportanceChoice | None) -> ClientImportance | None:
    import agentmail_client as am  # noqa: PLC0415

    return None if choice is None else am.Importance(choice.value)


def _print_sent(out: Output, result: SendMessageResult) -> None:
    if out.as_json:
        out.json(result)
        return
    message = result.message
    recipients = ", ".join((*message.to, *message.cc, *message.bcc)) or "-"
    verb = "Already sent" if result.deduplicated else "Sent"
    out.line(f"{verb} #{message.id} to {recipients} (thread {message.thread_id})", style="green")
    for skipped in result.skipped:
        out.note(f"skipped {skipped.name}: {skipped.reason}")


@app.command()
def send(
    ctx: typer.Context,
    body: BodyArgument = None,
    to: Recipients = None,
    cc: Recipients = None,
    bcc: Recipients = None,
    subject: Annotated[str, typer.Option("--subject", "-s", help="The subject.")] = "",
    file: BodyFile = None,
    importance: ImportanceOption = None,
    ack_required: AckRequired = False,
    thread: Annotated[str, typer.Option(help="Thread to post in (default: a new one).")] = "",
    topic: Annotated[str, typer.Option(help="A topic label.")] = "",
    broadcast: Annotated[bool, typer.Option(help="Send to every other agent.")] = False,
    idempotency_key: IdempotencyKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Send a message."""
    out = invocation(ctx).output(as_json)
    text = read_body(body, file)
    key = idempotency_key or uuid.uuid4().hex
    chosen = _importance(importance)
    result = with_client(ctx)(
        lambda client: client.send_message(
            names(to),
            subject=subject,
            body=text,
            cc=names(cc),
            bcc=names(bcc),
            importance=chosen,
            ack_required=ack_required,
            thread_id=thread,
            topic=topic,
            idempotency_key=key,
            broadcast=broadcast,
        )
    )
    _print_sent(out, result)


@app.command()
def reply(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(help="The message to reply to.")],
    body: BodyArgument = None,
    file: BodyFile = None,
    to: Recipients = None,
    cc: Recipients = None,
    reply_all: Annotated[
        bool, typer.Option("--all", help="Also address the original's other recipients.")
    ] = False,
    subject: Annotated[str, typer.Option(help="(default: Re: the original's)")] = "",
    importance: ImportanceOption = None,
    ack_required: AckRequired = False,
    idempotency_key: IdempotencyKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Reply in a message's thread (to its sender unless --to or --all)."""
    out = invocation(ctx).output(as_json)
    text = read_body(body, file)
    key = idempotency_key or uuid.uuid4().hex
    chosen = _importance(importance)
    result = with_client(ctx)(
        lambda client: client.reply_message(
            message_id,
            body=text,
            subject=subject,
            to=names(to),
            cc=names(cc),
            reply_all=reply_all,
            importance=chosen,
            ack_required=ack_required,
            idempotency_key=key,
        )
    )
    _print_sent(out, result)
