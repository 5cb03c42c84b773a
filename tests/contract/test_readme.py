"""README.md stays true: settings, the quick-start commands and what CI runs."""

from __future__ import annotations

import pathlib
import re
import tomllib

import pytest
from agentmail_server.config import CONFIG_ENV, SETTINGS, Setting

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_VARIABLE = re.compile(r"\"(AGENTMAIL_[A-Z][A-Z_]*[A-Z])\"")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# The quick start's commands begin by making and entering a virtual environment.
VENV_PREFIX = "python3 -m venv .venv && . .venv/bin/activate && "


def _shell_lines() -> list[str]:
    """Lines of the README's ``sh`` fenced blocks."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def _quick_start(marker: str) -> str:
    """The one quick-start command containing ``marker``, without its venv prefix."""
    found = [line for line in _shell_lines() if line.startswith(VENV_PREFIX) and marker in line]
    assert len(found) == 1, f"expected one quick-start command with {marker!r}, found {found}"
    return found[0].removeprefix(VENV_PREFIX)


def _table_row(setting: Setting) -> str | None:
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and f"`{setting.flag}`" in cells:
            return line
    return None


def _default_cell(setting: Setting) -> str:
    """How the table shows a default: in code quotes, an empty one as ``""``."""
    return f"`{setting.default}`" if setting.default else '`""`'


def _expected_row(setting: Setting) -> str:
    return f"| `{setting.flag}` | `{setting.env}` | {_default_cell(setting)} | {setting.help} |"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.field)
def test_readme_documents_setting(setting: Setting) -> None:
    fix = f"; put this row in README's configuration table:\n{_expected_row(setting)}"
    row = _table_row(setting)
    assert row is not None, f"README documents no {setting.flag}{fix}"
    assert f"`{setting.env}`" in row, f"README's row for {setting.flag} lacks {setting.env}{fix}"
    assert _default_cell(setting) in row, f"README's {setting.flag} default is wrong{fix}"


def test_readme_documents_no_unknown_setting() -> None:
    known = {setting.env for setting in SETTINGS}
    mentioned = set(re.findall(r"`(AGENTMAIL_[A-Z_]+)`", README))
    # Variables read by the tooling rather than the server, and the config file's location.
    tooling = {
        "AGENTMAIL_UPDATE_SNAPSHOTS",
        "AGENTMAIL_REQUIRE_TOOLS",
        "AGENTMAIL_TEST_POSTGRES",
        CONFIG_ENV,
    }
    # Variables the `agentmail` command line and the MCP bridge read (named in their sources).
    cli_sources = [
        *(ROOT / "clients" / "agentmail_cli").glob("*.py"),
        *(ROOT / "clients" / "agentmail_mcp").glob("*.py"),
    ]
    cli = {name for path in cli_sources for name in CLI_VARIABLE.findall(path.read_text())}
    assert mentioned - known - tooling - cli == set()


def test_ci_runs_the_readme_test_command() -> None:
    command = _quick_start("pytest")
    assert command.endswith("pytest"), command
    assert command in CI_RUN, f".ci/run must run the README's test command verbatim: {command}"
    assert "python3 -m venv" in CI_RUN, ".ci/run must make a fresh virtual environment"


def test_readme_test_command_installs_a_declared_extra() -> None:
    extras = re.findall(r"\.\[([a-z0-9_-]+)\]", _quick_start("pytest"))
    assert extras, "the test command should install the project with its test extra"
    for extra in extras:
        assert extra in PYPROJECT["project"]["optional-dependencies"], extra


def test_readme_starts_the_server_with_its_console_script() -> None:
    command = _quick_start("agentmail-server")
    assert command.startswith("pip install ."), command
    script = command.split("&&")[-1].strip().split()[0]
    assert script in PYPROJECT["project"]["scripts"], f"{script} is not a declared console script"
