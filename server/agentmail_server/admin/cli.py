"""``agentmail-admin``: the one home of operator commands.

Subcommands: ``backup`` and ``restore`` (see :mod:`.backup`), ``retention`` (see
:mod:`.retention`), ``import-mcp-agent-mail`` (see :mod:`.mcp_command`), ``operator-token``
(mints an operator token; see :mod:`agentmail_server.operator_tokens`), and, folded in with
their own options unchanged, ``archive rebuild|verify`` (``agentmail-archive``) and
``metrics`` (``agentmail-metrics``), whose old names keep working.

Paths default to the server's settings, read as the server reads them (``AGENTMAIL_*``
variables, then the config file named by ``--config`` or ``AGENTMAIL_CONFIG``, then the
defaults), so the commands act on the data folder the server uses. Exit codes: 0 success,
1 a check found a problem (``archive verify``, ``metrics``), 2 the command could not run.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from collections.abc import Mapping, Sequence

from agentmail_server import operator_tokens
from agentmail_server.admin import mcp_command, retention
from agentmail_server.admin.backup import BackupError, backup, restore
from agentmail_server.archive import cli as archive_cli
from agentmail_server.config import CONFIG_ENV, CONFIG_FLAG, ServerConfig, resolve_config
from agentmail_server.metrics import cli as metrics_cli
from agentmail_server.version import version_line

PROG = "agentmail-admin"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Operate an agentmail server.")
    parser.add_argument("--version", action="version", version=version_line())
    parser.add_argument(
        CONFIG_FLAG, dest="config_file", help="the server's TOML config file, for default paths"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Listed for --help only: main() hands these to their own parsers (see _folded).
    commands.add_parser("archive", help="rebuild or verify the git archive (agentmail-archive)")
    commands.add_parser(
        "metrics", help="per-method calls and p50/p99 from /metrics (agentmail-metrics)"
    )
    save = commands.add_parser(
        "backup", help="copy a consistent snapshot of the database and archive, server running"
    )
    save.add_argument("dest", type=pathlib.Path, help="backup folder to create (empty or absent)")
    load = commands.add_parser("restore", help="restore a backup into an empty data folder")
    load.add_argument("source", type=pathlib.Path, help="a folder made by backup")
    load.add_argument("target", type=pathlib.Path, metavar="DATA_DIR", help="empty data folder")
    load.add_argument("--no-archive", action="store_true", help="leave the archive out")
    purge = commands.add_parser(
        "retention", help="report (--dry-run) or purge mail older than --days days"
    )
    retention.add_arguments(purge)
    mint = commands.add_parser(
        "operator-token",
        help="mint an operator token: printed once, only its hash kept in the data folder "
        "(restart the server to use it)",
    )
    adopt = commands.add_parser(
        mcp_command.NAME,
        help="import an mcp_agent_mail database into a stopped server's data folder "
        "(idempotent: a second run adds nothing)",
    )
    mcp_command.add_arguments(adopt)
    for command in (save, purge, mint, adopt):
        command.add_argument("--data-dir", type=pathlib.Path, help="the server's data folder")
    for command in (save, load):
        command.add_argument(
            "--archive-dir",
            type=pathlib.Path,
            help="the archive repository; a relative path is inside the data folder",
        )
    save.add_argument("--archive-branch", help="the archive's branch")
    return parser


def _settings(config_file: str | None, environ: Mapping[str, str]) -> ServerConfig:
    return resolve_config([CONFIG_FLAG, config_file] if config_file else [], environ).config


def _paths(
    args: argparse.Namespace, settings: ServerConfig, data_dir: pathlib.Path
) -> ServerConfig:
    archive_dir = args.archive_dir if args.archive_dir is not None else settings.archive_dir
    return ServerConfig(data_dir=data_dir, archive_dir=archive_dir)


def _run_backup(args: argparse.Namespace, settings: ServerConfig) -> int:
    paths = _paths(args, settings, args.data_dir or settings.data_dir)
    branch = args.archive_branch or settings.archive_branch
    archive = paths.archive_path if settings.archive or args.archive_dir else None
    report = backup(paths.data_dir, archive, args.dest, branch)
    archived = report.archive_position.message_id if report.archive_position else "nothing"
    print(
        f"backed up {paths.data_dir} to {args.dest}: {report.messages} messages (newest "
        f"{report.last_message_id}), {report.database_bytes} database bytes, archive at "
        f"message {archived}, {report.seconds:.1f} s"
    )
    return 0


def _run_restore(args: argparse.Namespace, settings: ServerConfig) -> int:
    paths = _paths(args, settings, args.target)
    manifest = restore(args.source, paths.data_dir, None if args.no_archive else paths.archive_path)
    print(
        f"restored {args.source} (taken {manifest.get('created_at')}, {manifest.get('messages')} "
        f"messages) into {paths.data_dir}"
    )
    return 0


def _folded(argv: Sequence[str]) -> tuple[str | None, str, list[str]] | None:
    """(config file, tool, its arguments) when ``argv`` runs a folded-in tool.

    Found before argparse runs: the tools parse their own arguments, ``--help`` included,
    which argparse would otherwise take for ``agentmail-admin``'s own.
    """
    config_file = None
    rest = list(argv)
    if rest and rest[0] == CONFIG_FLAG and len(rest) > 1:
        config_file, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith(CONFIG_FLAG + "="):
        config_file, rest = rest[0].partition("=")[2], rest[1:]
    if rest and rest[0] in ("archive", "metrics"):
        return config_file, rest[0], rest[1:]
    return None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run ``agentmail-admin``; returns the exit code."""
    environ = os.environ if environ is None else environ
    argv = sys.argv[1:] if argv is None else argv
    folded = _folded(argv)
    if folded is not None:
        config_file, tool, rest = folded
        if tool == "metrics":
            return metrics_cli.main(rest, prog=f"{PROG} metrics")
        tool_env = {**environ, CONFIG_ENV: config_file} if config_file else environ
        return archive_cli.main(rest, prog=f"{PROG} archive", environ=tool_env)
    args = _parser().parse_args(argv)
    settings = _settings(args.config_file, environ)
    try:
        if args.command == "backup":
            return _run_backup(args, settings)
        if args.command == "restore":
            return _run_restore(args, settings)
        if args.command == "operator-token":
            data_dir = args.data_dir or settings.data_dir
            # The token goes to stdout alone (for scripts); the note to stderr.
            print(operator_tokens.mint(ServerConfig(data_dir=data_dir).operator_tokens_path))
            print(
                f"{PROG}: stored the token's hash in {data_dir}; restart the server to use it",
                file=sys.stderr,
            )
            return 0
        if args.command == mcp_command.NAME:
            return mcp_command.run(args, args.data_dir or settings.data_dir)
        paths = ServerConfig(data_dir=args.data_dir or settings.data_dir)
        return retention.run(args, paths, settings.database_url)
    except (BackupError, retention.RetentionError, mcp_command.ImportFailed, OSError) as exc:
        print(f"{PROG} {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
