"""``agentmail-archive``: rebuild the git archive from the database, or verify it.

Defaults follow the server's settings (flags, then ``AGENTMAIL_*`` variables, then the
config file named by ``AGENTMAIL_CONFIG``, then the defaults), so ``agentmail-archive verify``
checks the archive the server writes. On PostgreSQL the database is the server's
``database_url`` (``AGENTMAIL_DATABASE_URL`` or the config file: never a flag, since a command
line is visible to every user of the machine). Exit codes:
0 success, 1 verification found a problem, 2 the command could not run.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from collections.abc import Mapping, Sequence

from agentmail_server.archive._commits import Position
from agentmail_server.archive._database import ArchiveDatabase
from agentmail_server.archive._maintenance import rebuild, verify
from agentmail_server.config import ServerConfig, resolve_config
from agentmail_server.datalock import DataFolderLock
from agentmail_server.version import version_line

# Problems listed one per line before the summary; the rest are counted.
MAX_LISTED = 100


def _default(field: str, environ: Mapping[str, str]) -> str:
    """The server's value of a setting: its variable, else the config file's, else default."""
    return str(getattr(resolve_config([], environ).config, field))


def _parser(environ: Mapping[str, str], prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Rebuild or verify agentmail's git archive."
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild_cmd = commands.add_parser(
        "rebuild", help="write the archive afresh from the database (stop the server first)"
    )
    verify_cmd = commands.add_parser(
        "verify", help="report messages and profiles missing from the archive"
    )
    for command in (rebuild_cmd, verify_cmd):
        command.add_argument("--data-dir", default=_default("data_dir", environ))
        command.add_argument(
            "--archive-dir",
            default=_default("archive_dir", environ),
            help="the archive repository; a relative path is inside --data-dir",
        )
        command.add_argument("--branch", default=_default("archive_branch", environ))
    rebuild_cmd.add_argument("--author-name", default=_default("archive_author_name", environ))
    rebuild_cmd.add_argument("--author-email", default=_default("archive_author_email", environ))
    return parser


def _show(position: Position | None) -> str:
    if position is None:
        return "nothing archived"
    return (
        f"message {position.message_id}, agent revision {position.agent_revision},"
        f" reservation revision {position.reservation_revision}"
    )


def _run_rebuild(args: argparse.Namespace, database: ArchiveDatabase, archive: pathlib.Path) -> int:
    # The server's own lock, so that a rebuild never races a running server's archive.
    lock = DataFolderLock(pathlib.Path(args.data_dir))
    try:
        lock.acquire()
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; stop it before rebuilding its archive") from None
    try:
        report = rebuild(
            database,
            archive,
            args.branch,
            args.author_name,
            args.author_email,
            on_progress=lambda p: print(f"archived up to {_show(p)}", file=sys.stderr),
        )
    finally:
        lock.release()
    print(
        f"rebuilt {archive} ({args.branch}): {report.messages} messages, {report.agents} agent "
        f"profiles in {report.commits} commits, {report.seconds:.1f} s"
    )
    return 0


def _run_verify(args: argparse.Namespace, database: ArchiveDatabase, archive: pathlib.Path) -> int:
    report = verify(database, archive, args.branch)
    for line in report.details[:MAX_LISTED]:
        print(line)
    if len(report.details) > MAX_LISTED:
        print(f"... and {len(report.details) - MAX_LISTED} more")
    print(
        f"checked {report.messages} messages and {report.agents} agent profiles in {archive} "
        f"({args.branch}); archive at {_show(report.archived)}, database at "
        f"{_show(report.database)}"
    )
    if report.ok:
        print("ok: everything in the database is in the archive")
        return 0
    print(
        f"problems: {len(report.missing)} messages missing, {len(report.different)} messages "
        f"different, {len(report.agent_problems)} agent profiles missing or different"
    )
    archived = report.archived.message_id if report.archived is not None else 0
    pending = sum(1 for message_id in report.missing if message_id > archived)
    if pending:
        print(
            f"{pending} of the missing messages come after the archive's position: a running "
            "server may not have archived them yet"
        )
    return 1


def main(
    argv: Sequence[str] | None = None,
    prog: str = "agentmail-archive",
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run ``agentmail-archive`` (also ``agentmail-admin archive``); returns the exit code."""
    environ = os.environ if environ is None else environ
    args = _parser(environ, prog).parse_args(argv)
    paths = ServerConfig(
        data_dir=pathlib.Path(args.data_dir), archive_dir=pathlib.Path(args.archive_dir)
    )
    database = ArchiveDatabase(paths.database_path, _default("database_url", environ))
    archive = paths.archive_path
    if not database.url and not database.path.is_file():
        print(f"{prog}: no database at {database.path}", file=sys.stderr)
        return 2
    try:
        if args.command == "rebuild":
            return _run_rebuild(args, database, archive)
        return _run_verify(args, database, archive)
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
