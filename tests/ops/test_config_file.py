"""The TOML config file and ``--print-config``, through the real ``agentmail-server`` command."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

COMMAND_SECONDS = 60


def run_server_command(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m agentmail_server ARGS`` with only the given AGENTMAIL_* variables set."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("AGENTMAIL_")}
    return subprocess.run(
        [sys.executable, "-m", "agentmail_server", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )


def printed(stdout: str) -> dict[str, tuple[object, str]]:
    """``--print-config`` output as setting -> (value, source); the output is itself TOML."""
    values = tomllib.loads(stdout)
    sources = {
        line.split(" = ", 1)[0]: line.rsplit("# ", 1)[1]
        for line in stdout.splitlines()
        if " = " in line
    }
    return {key: (value, sources[key]) for key, value in values.items()}


def test_print_config_shows_each_value_and_where_it_came_from(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "agentmail.toml"
    config.write_text(
        'data_dir = "/srv/agentmail"\nread_pool_size = 3\ngrace_seconds = 2\n'
        "cache_size = 77\nuvloop = false\n"
    )

    result = run_server_command(
        "--config",
        str(config),
        "--print-config",
        "--cache-size",
        "99",
        env={"AGENTMAIL_READ_POOL_SIZE": "5", "AGENTMAIL_CACHE_SIZE": "88"},
    )

    assert result.returncode == 0, result.stderr
    shown = printed(result.stdout)
    assert shown["data_dir"] == ("/srv/agentmail", "file")
    assert shown["grace_seconds"] == (2.0, "file")
    assert shown["uvloop"] == (False, "file")
    assert shown["read_pool_size"] == (5, "environment")  # environment beats the file
    assert shown["cache_size"] == (99, "flag")  # a flag beats both
    assert shown["writer_max_batch"] == (512, "default")


def test_config_file_from_the_environment_and_the_output_is_a_config_file(
    tmp_path: pathlib.Path,
) -> None:
    config = tmp_path / "agentmail.toml"
    config.write_text('archive_branch = "history"\n')
    first = run_server_command("--print-config", env={"AGENTMAIL_CONFIG": str(config)})
    assert first.returncode == 0, first.stderr
    assert printed(first.stdout)["archive_branch"] == ("history", "file")

    # What --print-config shows can be fed back as a config file and means the same.
    echoed = tmp_path / "echoed.toml"
    echoed.write_text(first.stdout)
    second = run_server_command("--config", str(echoed), "--print-config")
    assert second.returncode == 0, second.stderr
    again = printed(second.stdout)
    assert {key: value for key, (value, _) in again.items()} == {
        key: value for key, (value, _) in printed(first.stdout).items()
    }
    assert {source for _, source in again.values()} == {"file"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("read_pool_siz = 3\n", "unknown setting 'read_pool_siz' (did you mean 'read_pool_size'?)"),
        ('read_pool_size = "3"\n', "read_pool_size must be an integer, got str '3'"),
        ("read_pool_size = true\n", "read_pool_size must be an integer, got bool True"),
        ("uvloop = 1\n", "uvloop must be a boolean (true or false), got int 1"),
        ("data_dir = 4\n", "data_dir must be a string, got int 4"),
        ("[server]\nlisten = 'x:1'\n", "unknown setting 'server'"),
        ("listen = \n", "not valid TOML"),
    ],
    ids=[
        "unknown",
        "string-for-int",
        "bool-for-int",
        "int-for-bool",
        "int-for-path",
        "table",
        "toml",
    ],
)
def test_a_bad_config_file_is_one_clear_line(
    tmp_path: pathlib.Path, content: str, message: str
) -> None:
    config = tmp_path / "agentmail.toml"
    config.write_text(content)

    result = run_server_command("--config", str(config), "--print-config")

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"agentmail-server: error: config file {config}: ")
    assert message in lines[0]


def test_a_missing_config_file_is_one_clear_line(tmp_path: pathlib.Path) -> None:
    result = run_server_command("--config", str(tmp_path / "absent.toml"))

    assert result.returncode == 2
    absent = tmp_path / "absent.toml"
    assert result.stderr.strip().splitlines() == [
        f"agentmail-server: error: config file {absent}: No such file or directory"
    ]


def test_a_file_value_is_validated_like_a_flag(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "agentmail.toml"
    config.write_text('sqlite_synchronous = "sometimes"\n')

    result = run_server_command("--config", str(config), "--print-config")

    assert result.returncode == 2
    assert "sqlite_synchronous must be 'full' or 'normal'" in result.stderr


def test_operator_cert_names_from_a_file_goes_with_a_client_ca(tmp_path: pathlib.Path) -> None:
    tls = 'tls_cert = "s.pem"\ntls_key = "s-key.pem"\n'
    names = 'operator_cert_names = "ops-console, backup-ops"\n'
    complete = tmp_path / "complete.toml"
    complete.write_text(tls + 'tls_client_ca = "ca.pem"\n' + names)
    lacking = tmp_path / "lacking.toml"
    lacking.write_text(tls + names)

    shown = run_server_command("--config", str(complete), "--print-config")
    refused = run_server_command("--config", str(lacking), "--print-config")

    assert shown.returncode == 0, shown.stderr
    assert printed(shown.stdout)["operator_cert_names"] == ("ops-console, backup-ops", "file")
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "operator_cert_names (operator client certificates) needs tls_client_ca" in (
        refused.stderr
    )
