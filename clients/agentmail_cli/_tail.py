"""``agentmail tail``: follow the inbox (and coordination events) as they are committed.

The typed client's subscription does the hard part: it resumes after a cursor, reconnects with
backoff when the server restarts and neither skips nor repeats. This command keeps that cursor
on disk, one file per profile in the platform's state folder, replaced atomically after each
printed entry: a tail stopped (or killed) and started again goes on after the last entry it
printed. Delivery to the terminal is therefore at least once across a crash between printing
and saving, and exactly once otherwise.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import tempfile
from typing import TYPE_CHECKING, Annotated

import typer

from ._app import JsonFlag, app, invocation, run
from ._exits import CliError, ExitCode
from ._output import Output, jsonable, when
from ._settings import state_dir

if TYPE_CHECKING:
    from agentmail_client import AgentEvent, InboxItem, Subscription

# Well above the server's heartbeat (15 s by default): a silent connection this long is dead.
_IDLE_TIMEOUT_SECONDS = 60.0


def cursor_path(profile: str) -> pathlib.Path:
    """Where ``tail`` keeps the cursor of ``profile``."""
    return state_dir() / "cursors" / f"{profile}.cursor"


def load_cursor(path: pathlib.Path) -> str | None:
    """The saved cursor, or ``None`` when there is none yet."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def save_cursor(path: pathlib.Path, cursor: str) -> None:
    """Replaces the saved cursor atomically: a reader sees the old one or the new one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(cursor)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


def describe_event(event: AgentEvent) -> tuple[str, str]:
    """The kind of an event (``acknowledgement``, ``contact``, ``reservation``, ``unknown``)
    and a line about it for people."""
    import agentmail_client as am  # noqa: PLC0415

    detail = event.detail
    if isinstance(detail, am.AcknowledgementEvent):
        return "acknowledgement", (
            f"{detail.acknowledged_by} acknowledged #{detail.message_id} {detail.subject!r}"
        )
    if isinstance(detail, am.ContactEvent):
        kind = detail.kind.value if detail.kind else "changed"
        text = f"contact {kind}: {detail.from_agent} -> {detail.to_agent}"
        return "contact", text + (f" ({detail.reason})" if detail.reason else "")
    if isinstance(detail, am.ReservationEvent):
        kind = detail.kind.value if detail.kind else "changed"
        text = f"reservation #{detail.reservation_id} {detail.pattern} {kind}"
        if detail.other_agent:
            text += f" by {detail.other_agent}"
        text += f", expires {when(detail.expire_time)}"
        return "reservation", text + (f" ({detail.reason})" if detail.reason else "")
    return "unknown", "an event this client does not know"


def print_entry(out: Output, entry: InboxItem | AgentEvent, bodies: bool) -> None:
    """One entry: a JSON line, or a header line (and the indented body) for people."""
    import agentmail_client as am  # noqa: PLC0415

    if isinstance(entry, am.AgentEvent):
        kind, text = describe_event(entry)
        if out.as_json:
            out.json({"type": "event", "event": kind, **jsonable(entry)})
        else:
            out.line(f"{when(entry.create_time)}  event  {text}", style="cyan")
        return
    if out.as_json:
        out.json({"type": "message", **jsonable(entry)})
        return
    message = entry.message
    urgent = message.importance in (am.Importance.HIGH, am.Importance.URGENT)
    flags = f" [{message.importance.value}]" if message.importance != am.Importance.NORMAL else ""
    flags += " [ack required]" if message.ack_required else ""
    out.line(
        f"{when(message.create_time)}  #{message.id}  {message.sender}{flags}: {message.subject}",
        style="bold red" if urgent else "bold",
    )
    if bodies and message.body:
        for line in message.body.splitlines():
            out.line(f"    {line}")


@app.command()
def tail(
    ctx: typer.Context,
    mail_only: Annotated[bool, typer.Option(help="Mail only, no coordination events.")] = False,
    urgent: Annotated[bool, typer.Option(help="Only HIGH and URGENT mail.")] = False,
    topic: Annotated[str, typer.Option(help="Only this topic.")] = "",
    thread: Annotated[str, typer.Option(help="Only this thread.")] = "",
    bodies: Annotated[bool, typer.Option(help="Print bodies.")] = True,
    reset: Annotated[
        bool, typer.Option(help="Forget the saved cursor: start with what arrives from now.")
    ] = False,
    count: Annotated[
        int, typer.Option(min=0, help="Stop after this many entries (0: run until stopped).")
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Print mail (and coordination events) as they arrive, resuming where the last tail of
    this profile stopped. Runs until interrupted (exit 0) or --count entries."""
    import agentmail_client as am  # noqa: PLC0415

    inv = invocation(ctx)
    out = inv.output(as_json)
    token = inv.token()
    path = cursor_path(inv.profile().name)
    start = None if reset else load_cursor(path)

    async def follow() -> None:
        async with inv.client(token=token) as client:
            # Heartbeats move the cursor past mail the filters skipped: keep that too.
            def keep(cursor: str) -> None:
                save_cursor(path, cursor)

            stream: Subscription[InboxItem] | Subscription[InboxItem | AgentEvent]
            if mail_only:
                stream = client.subscribe(
                    cursor=start,
                    urgent_only=urgent,
                    topic=topic,
                    thread_id=thread,
                    include_bodies=bodies,
                    on_cursor=keep,
                    idle_timeout=_IDLE_TIMEOUT_SECONDS,
                )
            else:
                stream = client.subscribe_with_events(
                    cursor=start,
                    urgent_only=urgent,
                    topic=topic,
                    thread_id=thread,
                    include_bodies=bodies,
                    on_cursor=keep,
                    idle_timeout=_IDLE_TIMEOUT_SECONDS,
                )
            printed = 0
            async with stream as entries:
                async for entry in entries:
                    print_entry(out, entry, bodies)
                    save_cursor(path, entry.cursor)
                    printed += 1
                    if count and printed >= count:
                        break

    async def until_signal() -> None:
        task = asyncio.ensure_future(follow())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
        except (am.InvalidArgument, am.OutOfRange) as exc:
            error = CliError(
                f"{exc.message}: the saved cursor ({path}) is not usable on this server; "
                "run `agentmail tail --reset` to start from now",
                ExitCode.USAGE,
                reason=exc.reason or "CURSOR_INVALID",
            )
            raise error from None

    run(until_signal)
