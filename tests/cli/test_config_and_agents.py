"""Profiles, the token file and the agent commands, through the installed command."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import tomllib
from collections.abc import Callable
from typing import Any

from .conftest import AGENTMAIL, PROJECT_KEY, Cli


async def test_register_stores_a_private_token_and_the_profile(cli: Cli) -> None:
    slug = (await cli.ok("project", "ensure", PROJECT_KEY)).stdout.strip()
    result = await cli.ok("--project", slug, "register", "Alice", "--program", "pytest")
    assert result.stdout == f"Registered Alice in {slug}\n"
    token = cli.token_file()
    assert token.stat().st_mode & 0o777 == 0o600
    assert token.read_text().strip() not in result.stdout + result.stderr
    config = tomllib.loads((cli.config_dir / "config.toml").read_text())
    assert config["profiles"]["default"] == {
        "address": cli.address,
        "project": slug,
        "agent": "Alice",
    }
    # The stored profile is enough from now on: no flags.
    whoami = (await cli.ok("whoami", "--json")).json()
    assert (whoami["agent"], whoami["project"], whoami["record"]["program"]) == (
        "Alice",
        slug,
        "pytest",
    )
    again = (await cli.ok("register", "--json", "--task", "tests")).json()
    assert (again["created"], again["agent"]["task_description"]) == (False, "tests")
    assert "token" not in again and "token" not in again["agent"]


async def test_a_token_file_readable_by_others_is_refused(crew: Cli) -> None:
    crew.token_file().chmod(0o644)
    result = await crew("inbox")
    assert result.code == 4
    assert "permissions are 0644" in result.stderr
    assert f"chmod 600 {crew.token_file()}" in result.stderr
    assert "Traceback" not in result.stderr
    report = (await crew("inbox", "--json")).error()
    assert (report["reason"], report["exitCode"]) == ("TOKEN_FILE_UNSAFE", 4)


async def test_a_missing_token_says_to_register(cli: Cli) -> None:
    result = await cli("--project", "p", "--agent", "Zed", "inbox")
    assert result.code == 4
    assert "run `agentmail register NAME` first" in result.stderr


async def test_flags_win_over_environment_which_wins_over_the_file(crew: Cli) -> None:
    env = {"AGENTMAIL_AGENT": "FromEnv"}
    shown = (await crew("whoami", "--json", env=env)).error()
    # The environment's agent replaced the file's (and the server knows no FromEnv).
    assert shown["reason"] == "AGENT_NOT_FOUND"
    flagged = (await crew.ok("--agent", "Alice", "whoami", "--json", env=env)).json()
    assert flagged["agent"] == "Alice"
    elsewhere = await crew("whoami", env={"AGENTMAIL_ADDRESS": "127.0.0.1:1"})
    assert elsewhere.code == 6, elsewhere


async def test_profiles_select_agents(crew: Cli) -> None:
    assert (await crew.ok("--profile", "bob", "whoami", "--json")).json()["agent"] == "Bob"
    assert (await crew.ok("whoami", "--json", env={"AGENTMAIL_PROFILE": "bob"})).json()[
        "agent"
    ] == "Bob"
    text = (await crew.ok("--profile", "bob", "whoami")).stdout
    assert "profile:   bob" in text and "Bob" in text


async def test_a_malformed_config_file_is_a_usage_error(cli: Cli) -> None:
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text('[profiles.default]\nadress = "x"\n')
    result = await cli("whoami")
    assert result.code == 2
    assert "unknown key 'adress'" in result.stderr


async def test_agents_and_projects_in_both_formats(crew: Cli) -> None:
    listed = (await crew.ok("agents", "--json")).json()
    assert [a["name"] for a in listed["items"]] == ["Alice", "Bob"]
    table = (await crew.ok("agents")).stdout.splitlines()
    assert table[0].split()[:3] == ["name", "program", "model"]
    assert [line.split()[0] for line in table[1:]] == ["Alice", "Bob"]
    projects = (await crew.ok("project", "list", "--json")).json()
    assert [p["human_key"] for p in projects["items"]] == [PROJECT_KEY]
    assert PROJECT_KEY in (await crew.ok("project", "list")).stdout
    ensured = (await crew.ok("project", "ensure", PROJECT_KEY, "--json")).json()
    assert ensured["created"] is False


async def test_a_taken_name_is_a_conflict(crew: Cli) -> None:
    slug = (await crew.ok("whoami", "--json")).json()["project"]
    result = await crew("--profile", "mallory", "--project", slug, "register", "Alice")
    assert result.code == 5
    assert "[AGENT_EXISTS]" in result.stderr


async def test_usage_errors_exit_2_and_help_lists_exit_codes(cli: Cli) -> None:
    assert (await cli("send", "--no-such-option")).code == 2
    assert (await cli("read", "not-a-number")).code == 2
    helped = await cli.ok("--help")
    for code in ("3 not found", "4 authentication", "5 conflict", "6 server unavailable"):
        assert code in " ".join(helped.stdout.split())


def test_help_does_not_load_grpc() -> None:
    """Start-up stays quick: the client (and gRPC) is imported only when a command runs."""
    probe = (
        "import sys, runpy; sys.argv = ['agentmail', '--help']\n"
        "try:\n    runpy.run_module('agentmail_cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('grpc' in sys.modules, 'agentmail_client' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stderr.strip().splitlines()[-1] == "False False"
    assert AGENTMAIL.exists()
    assert os.access(AGENTMAIL, os.X_OK)


async def test_shell_completion_completes_commands(cli: Cli) -> None:
    env = {"_AGENTMAIL_COMPLETE": "complete_bash", "COMP_WORDS": "agentmail pen", "COMP_CWORD": "1"}
    completed = await cli.ok(env=env)
    assert completed.stdout.split() == ["pending-acks"]
    script = await cli.ok("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert "_AGENTMAIL_COMPLETE=complete_bash" in script.stdout


async def test_enrollment_takes_the_secret_from_the_environment(
    tmp_path: pathlib.Path,
    start_server: Callable[..., contextlib.AbstractAsyncContextManager[Any]],
) -> None:
    async with start_server(tmp_path / "data", enrollment_secret="open sesame") as server:
        cli = Cli(tmp_path / "home", server.address)
        refused = await cli("project", "ensure", PROJECT_KEY, "--json")
        assert (refused.code, refused.error()["reason"]) == (4, "ENROLLMENT_REQUIRED")
        secret = {"AGENTMAIL_ENROLLMENT_SECRET": "open sesame"}
        slug = (await cli.ok("project", "ensure", PROJECT_KEY, env=secret)).stdout.strip()
        await cli.ok("--project", slug, "register", "Alice", env=secret)
        # Once registered, the agent's token is all it needs.
        assert (await cli.ok("whoami", "--json")).json()["agent"] == "Alice"


async def test_rotate_token_keeps_the_new_token_and_ends_the_old(crew: Cli) -> None:
    old = crew.token_file().read_text()
    rotated = await crew.ok("rotate-token")
    assert rotated.stdout == "Rotated the token of profile 'default'\n"
    new = crew.token_file().read_text()
    assert new != old and crew.token_file().stat().st_mode & 0o777 == 0o600
    assert old.strip() not in rotated.stdout + rotated.stderr
    await crew.ok("inbox")
    again = (await crew.ok("rotate-token", "--overlap", "60", "--json")).json()
    assert again == {"tokenFile": str(crew.token_file()), "overlapSeconds": 60}
    stale = crew.home / "old.token"
    stale.write_text(old)
    stale.chmod(0o600)
    refused = await crew("--token-file", str(stale), "inbox")
    assert refused.code == 4, refused
