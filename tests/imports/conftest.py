"""Fixtures of the import tests: a small mcp_agent_mail database covering every mapped field,
and running ``agentmail-admin import-mcp-agent-mail`` in this process."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import sys
from collections.abc import Callable

import pytest

# The repository's bench package writes the source databases (the import's bench uses it too);
# the root goes first so that ``bench`` is that package, not the tests' bench folder.
ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.mcp_fixture import McpDatabase  # noqa: E402 - needs the repository root on the path

T0 = datetime.datetime(2025, 10, 1, 9, 0, 0, 123456, tzinfo=datetime.UTC)


def at(seconds: float) -> datetime.datetime:
    """``seconds`` after :data:`T0`."""
    return T0 + datetime.timedelta(seconds=seconds)


@dataclasses.dataclass(frozen=True)
class Built:
    """The source database and the times the tests compare against."""

    path: pathlib.Path
    future: datetime.datetime
    first_message: int


def build_source(path: pathlib.Path, flavour: str = "python") -> Built:
    """Two projects; agents with a name to map, a case collision and a cross-project peer;
    mail with to/cc/bcc, read and ack times, a reply naming its root by id, a free-form
    thread, odd importance and kinds; reservations active, released, expired and refused;
    links approved, pending, blocked, cross-project and of unknown status."""
    # Whole seconds: what the API returns for an expiry is compared as is.
    future = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)).replace(
        microsecond=0
    )
    db = McpDatabase(path, flavour)
    shop = db.project("/home/dev/shop", T0)
    other = db.project("/home/dev/other", T0)
    green = db.agent(
        shop,
        "GreenCastle",
        at(1),
        program="claude-code",
        model="opus-4",
        task="orders service\nsecond line",
        contact_policy="contacts_only",
        last_active=at(3600),
    )
    blue = db.agent(shop, "BlueLake", at(2), program="codex", model="gpt-5")
    red = db.agent(shop, "RedStone", at(3), contact_policy="sometimes")
    fox = db.agent(shop, "Purple Fox", at(4))
    twin = db.agent(shop, "greencastle", at(5))
    orange = db.agent(other, "OrangeHill", at(6))
    first = db.message(
        shop,
        green,
        "Deploy plan",
        "We deploy the **orders** service at noon.",
        at(10),
        to=[blue],
        cc=[red],
        bcc=[fox],
        importance="high",
        ack_required=True,
        marks={blue: (at(20), at(30)), red: (at(25), None), fox: (None, at(26))},
        attachments='[{"type": "file", "path": "plan.png"}]',
    )
    db.message(
        shop,
        blue,
        "Re: Deploy plan",
        "Ready on my side: orders migrated.",
        at(40),
        to=[green],
        thread_id=str(first),
        importance="urgent",
    )
    third = db.message(
        shop,
        red,
        "Free-form thread",
        "kiwi",
        at(50),
        to=[green],
        thread_id="FEAT-7",
        importance="bogus",
    )
    db.recipients([(third, blue, "fyi", None, None)])
    db.message(shop, twin, "From the twin", "dropped", at(60), to=[green])
    db.message(shop, green, "Cross", "two places", at(70), to=[blue, orange])
    db.message(other, orange, "Other project", "pear", at(80))
    db.reservation(shop, green, "./src/orders/**", at(90), future, reason="refactor")
    db.reservation(shop, blue, "docs/", at(91), future, exclusive=False, reason="notes")
    db.reservation(shop, blue, "old/**", at(92), future, released=at(93))
    db.reservation(shop, red, "gone/**", at(94), at(95))
    db.reservation(shop, red, "../etc/passwd", at(96), future)
    db.reservation(shop, green, "src/orders/**", at(97), future)  # the same again
    db.link((shop, green), (shop, blue), "approved", at(100), reason="pairing", expires=future)
    db.link((shop, red), (shop, green), "pending", at(101), reason="may I?", expires=future)
    db.link((shop, blue), (shop, red), "blocked", at(102))
    db.link((shop, green), (other, orange), "approved", at(103))
    db.link((shop, fox), (shop, green), "maybe", at(104))
    db.close()
    return Built(path, future, first)


@pytest.fixture
def source(tmp_path: pathlib.Path) -> Built:
    """The source database, Python server's flavour."""
    return build_source(tmp_path / "storage.sqlite3")


@pytest.fixture
def run_import(
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., tuple[int, str, str]]:
    """``run_import(path, data_dir, *flags)``: the command in this process; (code, out, err)."""
    from agentmail_server.admin import cli  # noqa: PLC0415

    def run(path: pathlib.Path, data_dir: pathlib.Path, *flags: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(
            ["import-mcp-agent-mail", str(path), "--data-dir", str(data_dir), *flags], environ={}
        )
        out, err = capsys.readouterr()
        return code, out, err

    return run


def read_tokens(path: pathlib.Path) -> dict[str, str]:
    """Agent name -> token from a tokens file."""
    lines = [line.split("\t") for line in path.read_text().splitlines() if line[:1] != "#"]
    return {name: token for _, name, token in lines}
