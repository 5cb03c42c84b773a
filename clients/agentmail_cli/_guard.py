"""``agentmail guard``: a git pre-commit hook refusing commits that touch files another agent
holds exclusively.

``guard install`` writes a small ``pre-commit`` shell hook (in ``core.hooksPath`` when set);
an existing hook is kept as ``pre-commit.agentmail-orig`` and run first, and ``guard uninstall``
puts it back. The hook runs ``agentmail guard check``, which asks the server (``CheckConflicts``,
a few seconds' deadline, no retry) about every staged path, both sides of a rename included.

The guard blocks only on a definite answer: another agent's active exclusive reservation of a
staged path (exit 1, naming who holds it until when). When it cannot get an answer (server
unreachable, no profile or token, an error) it warns and lets the commit through: a guard that
fails closed would stop every commit whenever the server is down. ``AGENTMAIL_BYPASS=1``
skips the check.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shlex
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from ._app import JsonFlag, invocation, run, subapp
from ._coordination import CONFLICT_COLUMNS, conflict_rows
from ._exits import CliError, ExitCode
from ._output import Output

if TYPE_CHECKING:
    from agentmail_client import Conflict

guard_app = subapp("guard", "A git pre-commit hook that refuses commits touching reserved files.")

BYPASS_VARIABLE = "AGENTMAIL_BYPASS"
HOOK_NAME = "pre-commit"
KEPT_SUFFIX = ".agentmail-orig"
_MARKER = "# agentmail-guard"
# CheckConflicts takes at most this many paths per call.
_PATHS_PER_CALL = 500
# A commit waits for the guard: an answer must come quickly or not at all.
_CHECK_DEADLINE_SECONDS = 3.0

_HOOK = """#!/bin/sh
{marker}: installed by `agentmail guard install`, removed by `agentmail guard uninstall`.
# Runs the hook it replaced first (kept beside it as {hook}{kept}), then refuses the commit
# when another agent holds a staged file exclusively. AGENTMAIL_BYPASS=1 skips the check.
kept="$(dirname "$0")/{hook}{kept}"
if [ -x "$kept" ]; then
    "$kept" "$@" || exit $?
fi
if [ -x {python} ]; then
    exec {python} -m agentmail_cli {options}guard check
fi
if command -v agentmail >/dev/null 2>&1; then
    exec agentmail {options}guard check
fi
echo "agentmail guard: the agentmail command is not installed; commit not checked" >&2
exit 0
"""


def _git(repo: pathlib.Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, check=False, text=False
        )
    except OSError as exc:
        raise CliError(f"cannot run git: {exc}", ExitCode.FAILURE) from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise CliError(f"git {args[0]} in {repo}: {message}", ExitCode.USAGE, reason="NOT_A_REPO")
    return done.stdout.decode(errors="surrogateescape")


def hooks_dir(repo: pathlib.Path) -> pathlib.Path:
    """The repository's hooks folder (``core.hooksPath`` when set, worktrees understood)."""
    found = pathlib.Path(_git(repo, "rev-parse", "--git-path", "hooks").strip())
    return found if found.is_absolute() else repo / found


def staged_paths(repo: pathlib.Path) -> list[str]:
    """Every path the next commit adds, changes or removes; both sides of a rename or copy."""
    raw = _git(repo, "diff", "--cached", "--name-status", "-z", "-M", "--diff-filter=ACMRDTU")
    fields = raw.split("\0")
    paths: list[str] = []
    index = 0
    while index < len(fields) and fields[index]:
        status = fields[index]
        # A rename or copy (R100, C75) names its source and its destination.
        width = 2 if status[:1] in ("R", "C") else 1
        paths.extend(fields[index + 1 : index + 1 + width])
        index += 1 + width
    return list(dict.fromkeys(paths))


def covers(pattern: str, path: str) -> bool:
    """Whether a reservation ``pattern`` covers the real file ``path`` (gitignore's reading).

    ``CheckConflicts`` takes paths *or patterns*, so it answers whether the two overlap as
    patterns: a root-level ``README`` is unanchored (gitignore matches it at any depth) and so
    overlaps ``src/**`` through ``src/README``. A staged path is a real file at the root of the
    repository, so the guard keeps only the holders whose pattern matches it as such.
    """
    if "://" in pattern:
        return False  # a resource (tool://lint) never names a file
    import pathspec  # noqa: PLC0415 - only the guard needs it

    # A leading '#' would read as a comment; in a reservation it is a literal name.
    line = "\\" + pattern if pattern.startswith("#") else pattern
    return pathspec.GitIgnoreSpec.from_lines([line]).match_file(path)


def real_conflicts(conflicts: Sequence[Conflict]) -> tuple[Conflict, ...]:
    """``conflicts`` of staged paths, keeping the holders whose patterns cover those files."""
    kept = []
    for conflict in conflicts:
        holders = tuple(h for h in conflict.holders if covers(h.pattern, conflict.pattern))
        if holders:
            kept.append(dataclasses.replace(conflict, holders=holders))
    return tuple(kept)


def _is_ours(hook: pathlib.Path) -> bool:
    try:
        return _MARKER in hook.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


@guard_app.command("install")
def install(
    ctx: typer.Context,
    repo: Annotated[pathlib.Path, typer.Argument(help="The repository.")] = pathlib.Path("."),
    as_json: JsonFlag = False,
) -> None:
    """Install the pre-commit hook in REPO, keeping and chaining any existing hook."""
    inv = invocation(ctx)
    out = inv.output(as_json)
    hooks = hooks_dir(repo)
    hook, kept = hooks / HOOK_NAME, hooks / f"{HOOK_NAME}{KEPT_SUFFIX}"
    chained = False
    if (hook.exists() or hook.is_symlink()) and not _is_ours(hook):
        if kept.exists() or kept.is_symlink():
            raise CliError(
                f"{hook} exists and so does {kept}: move one of them away first",
                ExitCode.CONFLICT,
                reason="HOOK_EXISTS",
            )
        hook.rename(kept)
        chained = True
    profile = inv.overrides.profile
    options = f"--profile {shlex.quote(profile)} " if profile else ""
    hooks.mkdir(parents=True, exist_ok=True)
    hook.write_text(
        _HOOK.format(
            marker=_MARKER,
            hook=HOOK_NAME,
            kept=KEPT_SUFFIX,
            python=shlex.quote(sys.executable),
            options=options,
        ),
        encoding="utf-8",
    )
    hook.chmod(0o755)
    chained = chained or kept.exists()
    if out.as_json:
        out.json({"installed": str(hook), "chained": str(kept) if chained else None})
        return
    out.line(f"Installed {hook}")
    if chained:
        out.note(f"the previous hook runs first, kept as {kept}")


@guard_app.command("uninstall")
def uninstall(
    ctx: typer.Context,
    repo: Annotated[pathlib.Path, typer.Argument(help="The repository.")] = pathlib.Path("."),
    as_json: JsonFlag = False,
) -> None:
    """Remove the hook from REPO and put back the hook it chained, if any."""
    out = invocation(ctx).output(as_json)
    hooks = hooks_dir(repo)
    hook, kept = hooks / HOOK_NAME, hooks / f"{HOOK_NAME}{KEPT_SUFFIX}"
    if not _is_ours(hook):
        if out.as_json:
            out.json({"removed": None, "restored": None})
        else:
            out.note(f"no agentmail guard in {hook}: nothing to do")
        return
    hook.unlink()
    restored = kept.exists() or kept.is_symlink()
    if restored:
        kept.rename(hook)
    if out.as_json:
        out.json({"removed": str(hook), "restored": str(hook) if restored else None})
        return
    out.line(f"Removed the agentmail guard from {hook}")
    if restored:
        out.note(f"restored the previous hook from {kept}")


def _warn(out: Output, why: str) -> None:
    if out.as_json:
        out.json({"allowed": True, "checked": False, "warning": why, "conflicts": []})
    sys.stderr.write(f"agentmail guard: warning: {why}; commit not checked\n")


def _ask(ctx: typer.Context, paths: Sequence[str]) -> tuple[Conflict, ...]:
    """The exclusive conflicts of ``paths`` with other agents' reservations."""
    inv = invocation(ctx)
    token = inv.token()
    if inv.timeout is None:
        inv.timeout = _CHECK_DEADLINE_SECONDS

    async def call() -> tuple[Conflict, ...]:
        found: list[Conflict] = []
        async with inv.client(token=token, attempts=1) as client:
            for start in range(0, len(paths), _PATHS_PER_CALL):
                result = await client.check_conflicts(paths[start : start + _PATHS_PER_CALL])
                found.extend(result.conflicts)
        return real_conflicts(found)

    return run(call)


@guard_app.command("check")
def check(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Check the staged files (what the hook runs): exit 1 when another agent holds one
    exclusively, 0 otherwise; warns and exits 0 when the server cannot answer."""
    out = invocation(ctx).output(as_json)
    if os.environ.get(BYPASS_VARIABLE, "") not in ("", "0"):
        sys.stderr.write(f"agentmail guard: bypassed ({BYPASS_VARIABLE} is set)\n")
        if out.as_json:
            out.json({"allowed": True, "checked": False, "bypassed": True, "conflicts": []})
        return
    paths = staged_paths(pathlib.Path("."))
    if not paths:
        if out.as_json:
            out.json({"allowed": True, "checked": True, "conflicts": []})
        return
    try:
        conflicts = _ask(ctx, paths)
    except CliError as exc:
        _warn(out, f"{exc.reason + ': ' if exc.reason else ''}{exc.message}")
        return
    if out.as_json:
        out.json({"allowed": not conflicts, "checked": True, "conflicts": conflicts})
    if not conflicts:
        return
    rows = conflict_rows(conflicts)
    sys.stderr.write("agentmail guard: commit refused: another agent holds staged files\n")
    widths = [max(len(row[i]) for row in (CONFLICT_COLUMNS, *rows)) for i in range(5)]
    for row in (CONFLICT_COLUMNS, *rows):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        sys.stderr.write("  " + line.rstrip() + "\n")
    sys.stderr.write(
        f"Wait for the release, ask the holder, or bypass with {BYPASS_VARIABLE}=1 git commit ...\n"
    )
    raise typer.Exit(ExitCode.FAILURE)
