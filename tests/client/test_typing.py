"""The client library and its example pass ``mypy --strict``, and mypy does catch misuse."""

from __future__ import annotations

import pathlib

import pytest
from mypy import api as mypy_api

# Every test here runs mypy, whose cache other tests' mypy runs share (see the fixture).
pytestmark = pytest.mark.usefixtures("mypy_cache_lock")

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"

MISUSE = """\
from agentmail_client import AgentmailClient


async def misuse(client: AgentmailClient) -> None:
    await client.get_project(42)
    page = await client.list_inbox(order="newest")
    subject: int = page.items[0].message.subject
    await client.search_messages("deploy", order="newest")
"""


def run_mypy(*targets: str | pathlib.Path) -> tuple[str, int]:
    stdout, stderr, status = mypy_api.run(
        ["--config-file", str(CONFIG), "--no-error-summary", *map(str, targets)]
    )
    return stdout + stderr, status


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # The config's mypy_path entries are relative to the repository root.
    monkeypatch.chdir(ROOT)


@pytest.mark.slow
def test_client_and_example_are_strictly_typed() -> None:
    output, status = run_mypy("clients/agentmail_client", "clients/examples/quickstart.py")
    assert status == 0, output
    assert output.strip() == ""


def test_mypy_reports_a_wrong_call(tmp_path: pathlib.Path) -> None:
    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE)
    output, status = run_mypy(misuse)
    assert status == 1, output
    assert 'Argument 1 to "get_project"' in output
    assert 'Argument "order" to "list_inbox"' in output
    assert 'Argument "order" to "search_messages"' in output
    assert "Incompatible types in assignment" in output
