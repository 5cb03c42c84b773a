"""``agentmail hook wait`` and ``agentmail hook check``: mail reaching an agent through hooks.

The main coding harnesses drop MCP's push notifications, but they run shell hooks, and read a
hook's exit code and output. Two hooks cover what an agent needs:

- ``hook wait``, a background wake-up hook (Claude Code: a ``Stop`` hook with ``async`` and
  ``asyncRewake``): it blocks on the inbox stream until mail newer than its kept cursor
  arrives, then prints the headlines on stderr and exits **2**, which wakes the agent with
  that text. At its ``--timeout`` it exits 0 and prints nothing. It never exits 2 for an
  error, so a broken server cannot wake the agent with noise: errors print one line on stderr
  and exit 1 (a non-blocking hook error). The one exception is a cursor the server refuses
  (its data was restored, or the file is another agent's): the cursor is dropped and the
  agent is woken (exit 2) with a hint to look at its inbox, because mail may have been missed.
- ``hook check``, a prompt hook (``UserPromptSubmit``; its stdout is added to the prompt):
  one inbox call, then one line about the unread mail, printed only when unread mail appeared
  that the previous check did not report; otherwise nothing. It always exits 0: a prompt must
  never fail because the mail server is away (a one-line warning goes to stderr instead).

A usage error of either (a bad option) exits 1, not click's 2, for the same reason.

State lives in the CLI's state folder, one set of files per address, project and agent (as
the MCP bridge keys its cursor): ``hooks/KEY.wait-cursor``, ``hooks/KEY.wait-lock`` (see
``_hook_lock.py``) and ``hooks/KEY.check.json``. A first wait starts at the inbox tail: what
is already unread is ``hook check``'s to report.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import importlib
import json
import pathlib
import re
import signal
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from ._app import Invocation, JsonFlag, app, invocation, run
from ._exits import CliError, ExitCode
from ._hook_lock import single_waiter
from ._settings import state_dir
from ._tail import load_cursor, save_cursor

if TYPE_CHECKING:
    from agentmail_client import AgentmailClient, InboxItem

# Below the 600 s a Claude Code command hook may run by default, so the wait ends on its own.
DEFAULT_WAIT_SECONDS = 540.0
MAX_WAIT_SECONDS = 86_400.0
WAKE_EXIT = 2
# What one wake-up reports at most (the rest comes with the next wait); lines shown of them.
_BATCH = 20
_SHOWN = 5
# A prompt hook runs before every prompt: one attempt, a short deadline.
_CHECK_DEADLINE_SECONDS = 3.0
# Unread items one check reads (newest first); beyond it the count reads "100+".
_CHECK_PAGE = 100
_SUBJECT_CHARS = 80
_CURSOR_REASONS = {"INVALID_PAGE_TOKEN", "CURSOR_AHEAD"}


def _usage_error() -> Any:
    """Click's UsageError as this Typer raises it: recent Typers vendor click as ``_click``."""
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            return importlib.import_module(name).UsageError
        except ImportError:
            continue
    raise ImportError("neither typer._click nor click is importable")  # pragma: no cover


class _HookGroup(TyperGroup):
    """The ``hook`` group: a usage error exits 1, because 2 means "wake the agent" (wait) or
    "block the prompt" (a prompt hook) to a harness."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _usage_error() as error:
            error.exit_code = int(ExitCode.FAILURE)
            raise


hook_app = typer.Typer(
    name="hook",
    cls=_HookGroup,
    no_args_is_help=True,
    help="Hooks for coding harnesses: `wait` wakes an idle agent when mail arrives (exit 2), "
    "`check` adds a one-line unread summary to a prompt when it changed.",
)
app.add_typer(hook_app, name="hook")


@dataclasses.dataclass(frozen=True)
class HookFiles:
    """Where the hooks of one agent keep their state."""

    wait_cursor: pathlib.Path
    wait_lock: pathlib.Path
    check_state: pathlib.Path

    @classmethod
    def of(cls, address: str, project: str, agent: str) -> HookFiles:
        """The files of ``agent`` of ``project`` on the server at ``address``."""
        key = re.sub(r"[^A-Za-z0-9._-]", "_", f"{address}__{project}__{agent}")
        folder = state_dir() / "hooks"
        return cls(
            folder / f"{key}.wait-cursor",
            folder / f"{key}.wait-lock",
            folder / f"{key}.check.json",
        )


def _files(inv: Invocation) -> HookFiles:
    profile = inv.profile()
    project = inv.need(profile.project, "project", "--project")
    agent = inv.need(profile.agent, "agent name", "--agent")
    return HookFiles.of(profile.address, project, agent)


def clean(text: str, limit: int = _SUBJECT_CHARS) -> str:
    """``text`` on one line (control characters out) and at most ``limit`` characters: it goes
    into an agent's context, written by someone else."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _is_urgent(item: InboxItem) -> bool:
    import agentmail_client as am  # noqa: PLC0415

    return item.message.importance in (am.Importance.HIGH, am.Importance.URGENT)


def headline(item: InboxItem) -> dict[str, object]:
    """What the hooks say about one message: never its body."""
    message = item.message
    return {
        "id": message.id,
        "sender": message.sender,
        "subject": clean(message.subject),
        "importance": message.importance.value,
        "ack_required": message.ack_required,
        "thread_id": message.thread_id,
    }


def _warn(command: str, error: CliError) -> None:
    label = f"[{error.reason}] " if error.reason else ""
    sys.stderr.write(f"agentmail: hook {command}: {label}{error.message}\n")


# ---- hook wait ------------------------------------------------------------------------------


async def next_unread(
    client: AgentmailClient, cursor: str | None, seconds: float
) -> tuple[list[InboxItem], str]:
    """The first mail after ``cursor`` that is still unread (mail the agent already read, say
    during its turn, moves the cursor on without waking it), and the cursor after it; no
    items when ``seconds`` pass first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        remaining = max(deadline - loop.time(), 0.0)
        result = await client.wait_for_mail(
            remaining, cursor=cursor, max_messages=_BATCH, include_bodies=False
        )
        cursor = result.cursor
        unread = [item for item in result.items if item.read_time is None]
        if unread or result.timed_out:
            return unread, cursor


def wake_text(agent: str, items: list[InboxItem]) -> str:
    """The lines that wake the agent: a count, one line per message (the first few), a hint."""
    urgent = sum(1 for item in items if _is_urgent(item))
    count = f"{len(items)} new message{'s' if len(items) != 1 else ''}"
    lines = [f"agentmail: {count} for {agent}" + (f" ({urgent} urgent)" if urgent else "") + ":"]
    for item in items[:_SHOWN]:
        message = item.message
        marks = []
        if message.importance.value != "normal":
            marks.append(message.importance.value)
        if message.ack_required:
            marks.append("ack required")
        flags = f" [{', '.join(marks)}]" if marks else ""
        lines.append(f"  #{message.id} from {message.sender}{flags}: {clean(message.subject)}")
    if len(items) > _SHOWN:
        lines.append(f"  and {len(items) - _SHOWN} more")
    lines.append("Read with fetch_inbox (MCP) or `agentmail inbox --unread`.")
    return "\n".join(lines) + "\n"


def _leave_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _wake(out_json: bool, payload: dict[str, object], text: str) -> NoReturn:
    if out_json:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        sys.stderr.write(text)
        sys.stderr.flush()
    raise typer.Exit(WAKE_EXIT)


@hook_app.command("wait")
def hook_wait(
    ctx: typer.Context,
    timeout: Annotated[
        float,
        typer.Option(
            min=0,
            max=MAX_WAIT_SECONDS,
            help="Longest wait, seconds; then exit 0 quietly. Keep it below the harness's "
            "hook timeout (Claude Code: 600 s unless the hook sets `timeout`).",
        ),
    ] = DEFAULT_WAIT_SECONDS,
    as_json: JsonFlag = False,
) -> None:
    """Block until new mail arrives, then print its headlines on stderr and exit 2 (a
    background hook's "wake the agent"); exit 0 quietly at --timeout, 1 on an error.

    Only mail newer than the previous wait's (a cursor kept per agent) counts, and only while
    unread. A newer wait for the same agent replaces an older one still waiting.
    """
    inv = invocation(ctx)
    as_json = as_json or inv.as_json
    try:
        files = _files(inv)
        agent = inv.profile().agent
        token = inv.token()
        with single_waiter(files.wait_lock):
            # Replaced (or stopped) before the wait began: nothing to save, leave quietly.
            signal.signal(signal.SIGTERM, _leave_quietly)
            cursor = load_cursor(files.wait_cursor)

            async def wait() -> tuple[list[InboxItem], str] | None:
                async with inv.client(token=token) as client:
                    task = asyncio.ensure_future(next_unread(client, cursor, timeout))
                    loop = asyncio.get_running_loop()
                    # SIGTERM: a newer wait took over, or the harness gave up on this one.
                    loop.add_signal_handler(signal.SIGTERM, task.cancel)
                    try:
                        return await task
                    except asyncio.CancelledError:
                        if task.cancelled():
                            return None
                        raise
                    finally:
                        loop.remove_signal_handler(signal.SIGTERM)
                        # Whatever comes next (saving, reporting) finishes before any stop.
                        signal.signal(signal.SIGTERM, signal.SIG_IGN)

            try:
                outcome = run(wait)
            except CliError as error:
                if error.reason not in _CURSOR_REASONS:
                    raise
                files.wait_cursor.unlink(missing_ok=True)
                text = (
                    f"agentmail: the hook's saved cursor was refused ({error.message}); it was "
                    f"reset, and mail may have been missed: run `agentmail inbox --unread` "
                    "(or fetch_inbox) to see it.\n"
                )
                _wake(as_json, {"messages": [], "cursorReset": True}, text)
            if outcome is None:
                return
            items, after = outcome
            if after != cursor:
                save_cursor(files.wait_cursor, after)
    except CliError as error:
        _warn("wait", error)
        raise typer.Exit(int(ExitCode.FAILURE)) from None
    if items:
        payload = {"messages": [headline(item) for item in items], "cursorReset": False}
        _wake(as_json, payload, wake_text(agent, items))


# ---- hook check -----------------------------------------------------------------------------


def summary_line(agent: str, items: tuple[InboxItem, ...], more: bool, new: int) -> str:
    """One line about the unread mail (``items`` newest first)."""
    count = f"{len(items)}{'+' if more else ''} unread"
    urgent = sum(1 for item in items if _is_urgent(item))
    notes = [f"{urgent} urgent"] if urgent else []
    notes.append(f"{new} new since the last check")
    senders = collections.Counter(item.message.sender for item in items).most_common(3)
    names = ", ".join(f"{name} ({n})" if n > 1 else name for name, n in senders)
    if len(senders) < len({item.message.sender for item in items}):
        names += ", others"
    newest = "; ".join(
        f'#{item.message.id} "{clean(item.message.subject, 60)}" ({item.message.sender})'
        for item in items[:3]
    )
    return (
        f"agentmail: {count} for {agent} ({', '.join(notes)}), from {names}. "
        f"Newest: {newest}. Read with fetch_inbox or `agentmail inbox --unread`."
    )


def _load_seen(path: pathlib.Path) -> set[int]:
    text = load_cursor(path)
    try:
        data = json.loads(text) if text else {}
        return {int(i) for i in data.get("unread", [])}
    except (ValueError, TypeError, AttributeError):
        return set()  # an unreadable state file only costs one repeated line


@hook_app.command("check")
def hook_check(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print one line about unread mail when some arrived since the last check, else nothing.

    Made for a prompt hook (its output joins the prompt): one inbox call, one attempt, a short
    deadline; always exits 0, with a one-line warning on stderr when the server cannot answer.
    """
    import agentmail_client as am  # noqa: PLC0415

    inv = invocation(ctx)
    as_json = as_json or inv.as_json
    quick = dataclasses.replace(inv, timeout=inv.timeout or _CHECK_DEADLINE_SECONDS)
    try:
        files = _files(inv)
        agent = inv.profile().agent
        token = inv.token()

        async def unread() -> am.Page[InboxItem]:
            async with quick.client(token=token, attempts=1) as client:
                return await client.list_inbox(
                    page_size=_CHECK_PAGE,
                    order=am.InboxOrder.NEWEST_FIRST,
                    unread_only=True,
                    include_bodies=False,
                )

        page = run(unread)
        seen = _load_seen(files.check_state)
        ids = [item.message.id for item in page.items]
        if set(ids) != seen or not files.check_state.exists():
            save_cursor(files.check_state, json.dumps({"unread": ids}))
    except CliError as error:
        _warn("check", error)
        return
    new = len(set(ids) - seen)
    if not new:
        return
    more = bool(page.next_page_token)
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "unread": len(ids),
                    "more": more,
                    "new": new,
                    "urgent": sum(1 for item in page.items if _is_urgent(item)),
                    "messages": [headline(item) for item in page.items[:_SHOWN]],
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        return
    sys.stdout.write(summary_line(agent, page.items, more, new) + "\n")
