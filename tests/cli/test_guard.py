"""``agentmail guard``: a real ``git commit`` in a temporary repository, with the hook installed."""

from __future__ import annotations

import asyncio
import pathlib
import subprocess

from .conftest import Cli, Result

BOB = ("--profile", "bob")
OLD_HOOK = "#!/bin/sh\necho the old hook ran\n"


def git(repo: pathlib.Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(path: pathlib.Path) -> pathlib.Path:
    """A repository with one commit, an identity and ``src/app.py``."""
    git(path.parent, "init", "-q", "-b", "main", str(path))
    git(path, "config", "user.email", "bob@example.com")
    git(path, "config", "user.name", "Bob")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('v1')\n")
    (path / "README").write_text("readme\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


async def commit(cli: Cli, repo: pathlib.Path, message: str, **env: str) -> Result:
    """``git commit -am MESSAGE`` as Bob (his profile, through the environment)."""
    process = await asyncio.create_subprocess_exec(
        "git",
        "-C",
        str(repo),
        "commit",
        "-q",
        "-a",
        "-m",
        message,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli.environment({"AGENTMAIL_PROFILE": "bob", **env}),
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def touch(repo: pathlib.Path, path: str) -> None:
    with (repo / path).open("a") as handle:
        handle.write("# changed\n")


async def test_guard_blocks_a_commit_of_a_reserved_file_until_released(
    crew: Cli, tmp_path: pathlib.Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    installed = await crew.ok("guard", "install", str(repo), "--json")
    assert installed.json()["chained"] is None
    await crew.ok("reserve", "src/**", "--reason", "refactoring")
    touch(repo, "src/app.py")
    refused = await commit(crew, repo, "touches a reserved file")
    assert refused.code == 1
    assert "commit refused" in refused.stderr
    assert "src/app.py  Alice    src/**         exclusive" in refused.stderr
    assert "AGENTMAIL_BYPASS=1" in refused.stderr
    # Files nobody holds commit freely; the holder itself is never blocked by its own.
    git(repo, "stash", "-q")
    touch(repo, "README")
    readme = await commit(crew, repo, "readme only")
    assert readme.code == 0, readme.stderr
    git(repo, "stash", "pop", "-q")
    bypassed = await commit(crew, repo, "bypassed", AGENTMAIL_BYPASS="1")
    assert bypassed.code == 0, bypassed
    assert "bypassed" in bypassed.stderr
    touch(repo, "src/app.py")
    assert (await commit(crew, repo, "still held")).code == 1
    await crew.ok("release", "--all")
    assert (await commit(crew, repo, "after the release")).code == 0


async def test_guard_checks_both_sides_of_a_rename(crew: Cli, tmp_path: pathlib.Path) -> None:
    repo = make_repo(tmp_path / "repo")
    await crew.ok("guard", "install", str(repo))
    await crew.ok("reserve", "src/app.py")
    git(repo, "mv", "src/app.py", "main.py")
    checked = await crew(*BOB, "guard", "check", "--json", cwd=repo)
    assert checked.code == 1
    assert [c["pattern"] for c in checked.json()["conflicts"]] == ["src/app.py"]


async def test_guard_warns_and_lets_the_commit_through_when_the_server_is_unreachable(
    crew: Cli, tmp_path: pathlib.Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    await crew.ok("guard", "install", str(repo))
    touch(repo, "src/app.py")
    result = await commit(crew, repo, "server down", AGENTMAIL_ADDRESS="127.0.0.1:1")
    assert result.code == 0, result
    assert "agentmail guard: warning: UNAVAILABLE" in result.stderr
    assert "commit not checked" in result.stderr


async def test_install_chains_the_existing_hook_and_uninstall_restores_it(
    crew: Cli, tmp_path: pathlib.Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    # core.hooksPath is where git looks, so it is where the guard goes.
    git(repo, "config", "core.hooksPath", "custom-hooks")
    hooks = repo / "custom-hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text(OLD_HOOK)
    (hooks / "pre-commit").chmod(0o755)
    installed = await crew.ok("guard", "install", str(repo))
    assert installed.stdout == f"Installed {hooks / 'pre-commit'}\n"
    assert (hooks / "pre-commit.agentmail-orig").read_text() == OLD_HOOK
    assert "agentmail-guard" in (hooks / "pre-commit").read_text()
    # Installing again is harmless: the kept hook stays the original.
    await crew.ok("guard", "install", str(repo))
    assert (hooks / "pre-commit.agentmail-orig").read_text() == OLD_HOOK
    await crew.ok("reserve", "src/app.py")
    touch(repo, "src/app.py")
    refused = await commit(crew, repo, "blocked")
    assert (refused.code, "the old hook ran" in refused.stderr) == (1, True)
    removed = (await crew.ok("guard", "uninstall", str(repo), "--json")).json()
    assert removed["restored"] == str(hooks / "pre-commit")
    assert (hooks / "pre-commit").read_text() == OLD_HOOK
    assert not (hooks / "pre-commit.agentmail-orig").exists()
    assert (await commit(crew, repo, "no guard")).code == 0
    nothing = await crew.ok("guard", "uninstall", str(repo))
    assert "nothing to do" in nothing.stderr
    assert (await crew("guard", "install", str(tmp_path / "not-a-repo"))).code == 2
