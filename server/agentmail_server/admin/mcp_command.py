"""``agentmail-admin import-mcp-agent-mail PATH``: the command around the import.

Checks the source first (a missing file, a file that is not SQLite and an unknown schema each
fail in one line before anything is written), then takes the data folder's lock (a running
server is refused: the import writes offline, see :mod:`.mcp_import` for why), loads with a
progress bar on a terminal, and prints a summary: per kind what was imported, what was already
there (a second run imports nothing) and what was skipped, with reasons; then how the agents
get tokens. Tokens are never printed: ``--tokens-file`` writes the new agents' tokens to a new
owner-only file.

The writer connection uses ``synchronous=NORMAL`` (a crash may lose the last transactions but
never corrupts; running the import again completes it) and checkpoints the WAL at the end.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sqlite3
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agentmail_server import cursor_key
from agentmail_server.admin.mcp_import import Importer
from agentmail_server.admin.mcp_records import KINDS, Report
from agentmail_server.admin.mcp_source import Source, SourceError
from agentmail_server.config import ServerConfig
from agentmail_server.datalock import DataFolderLock
from agentmail_server.domain.models import now_micros
from agentmail_server.storage.sqlite import schema
from agentmail_server.storage.sqlite.connection import open_writer

NAME = "import-mcp-agent-mail"
# Renamed agents listed in the summary at most (the count is always given).
SHOWN_RENAMES = 20


class ImportFailed(RuntimeError):
    """The import could not run or stopped; the message says why, in one line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's own options (``--data-dir`` is added with the other commands')."""
    parser.add_argument("path", type=pathlib.Path, help="the mcp_agent_mail SQLite database")
    parser.add_argument(
        "--tokens-file",
        type=pathlib.Path,
        help="write the new agents' tokens here (a new file, owner-only); without it an "
        "operator issues each agent a token with RevokeTokens",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none off a terminal)"
    )


def load(
    source_path: pathlib.Path,
    data_dir: pathlib.Path,
    *,
    show_progress: bool = False,
    console: Console | None = None,
) -> Report:
    """Import ``source_path`` into the stopped server's ``data_dir``; returns the report.

    Raises:
        ImportFailed: the source is missing, not SQLite or of an unknown schema; the data
            folder is in use; or the database failed.
    """
    try:
        source = Source(source_path)
    except SourceError as exc:
        raise ImportFailed(str(exc)) from None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = DataFolderLock(data_dir)
        try:
            lock.acquire()
        except RuntimeError as exc:
            raise ImportFailed(f"{exc}: stop it first (the import writes offline)") from None
        try:
            return _load_locked(source, data_dir, show_progress, console)
        finally:
            lock.release()
    finally:
        source.close()


def _load_locked(
    source: Source, data_dir: pathlib.Path, show_progress: bool, console: Console | None
) -> Report:
    path = ServerConfig(data_dir=data_dir).database_path
    bar = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        disable=not show_progress,
    )
    tasks: dict[str, object] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=max(total, done))
        bar.update(tasks[phase], completed=done, total=max(total, done))  # type: ignore[arg-type]

    try:
        # Made now, before the database, as a first start makes it: a server started on a
        # folder whose database exists but key does not warns that saved cursors were lost.
        cursor_key.load_or_create(data_dir, path)
        conn = open_writer(path, "normal")
    except (sqlite3.Error, RuntimeError) as exc:
        raise ImportFailed(f"cannot open {path}: {exc}") from None
    try:
        schema.migrate(conn)
        with bar:
            result = Importer(conn, source, now_micros(), report).run()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return result
    except sqlite3.Error as exc:
        raise ImportFailed(f"{exc} (importing {source.path} into {path})") from None
    finally:
        conn.close()


def write_tokens(path: pathlib.Path, report: Report) -> None:
    """Write ``project<TAB>name<TAB>token`` per new agent into the new file ``path``, 0600.

    Raises:
        ImportFailed: the file exists (never overwritten) or cannot be written.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ImportFailed(f"cannot create the tokens file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as out:
        out.write("# project\tagent\ttoken (agentmail; shown once, keep secret)\n")
        for slug, name, token in report.new_agents:
            out.write(f"{slug}\t{name}\t{token}\n")
        out.flush()
        os.fsync(out.fileno())


def summary(report: Report, source: pathlib.Path, data_dir: pathlib.Path) -> str:
    """The lines printed after an import (never a token)."""
    lines = [
        f"imported {source} (mcp_agent_mail, {report.flavour} server's schema) into {data_dir}"
        f" in {report.seconds:.1f} s"
    ]
    for kind in KINDS:
        tally = report.tallies[kind]
        parts = [f"{tally.imported} imported", f"{tally.present} already there"]
        skipped = sum(tally.skipped.values())
        if skipped:
            reasons = ", ".join(f"{why}: {n}" for why, n in tally.skipped.most_common())
            parts.append(f"{skipped} skipped ({reasons})")
        if tally.adjusted:
            changes = ", ".join(f"{what}: {n}" for what, n in tally.adjusted.most_common())
            parts.append(f"changed: {changes}")
        lines.append(f"  {kind + ':':<14}{'; '.join(parts)}")
    for slug, old, new in report.renamed[:SHOWN_RENAMES]:
        lines.append(f"  renamed in {slug}: {old!r} -> {new}")
    if len(report.renamed) > SHOWN_RENAMES:
        lines.append(f"  ... and {len(report.renamed) - SHOWN_RENAMES} more renamed")
    return "\n".join(lines)


def token_advice(report: Report, tokens_file: pathlib.Path | None) -> str:
    """How the imported agents get tokens (mcp_agent_mail's do not carry over)."""
    count = len(report.new_agents)
    if not count:
        return "no new agent: nothing to hand out"
    if tokens_file is not None:
        return (
            f"{count} new agents: their tokens are in {tokens_file} (owner-only); hand each "
            "agent its own, then delete the file"
        )
    return (
        f"{count} new agents have no usable token yet (mcp_agent_mail's are not imported): "
        "an operator issues each one with RevokeTokens(project, name, issue_new_token=true) "
        "(typed client: revoke_tokens(project, name, issue_new_token=True); an operator token "
        "comes from 'agentmail-admin operator-token')"
    )


def run(args: argparse.Namespace, data_dir: pathlib.Path) -> int:
    """Run the command; returns the exit code (0, or 2 with one line on stderr)."""
    tokens_file: pathlib.Path | None = args.tokens_file
    if tokens_file is not None and tokens_file.exists():
        raise ImportFailed(f"the tokens file {tokens_file} already exists")
    console = Console(stderr=True)
    show = not args.no_progress and console.is_terminal
    report = load(args.path, data_dir, show_progress=show, console=console)
    if tokens_file is not None:
        write_tokens(tokens_file, report)
    print(summary(report, args.path, data_dir))
    print(token_advice(report, tokens_file))
    sys.stdout.flush()
    return 0
