"""retire, unretire, revoke-tokens, unacknowledged and force-release, as an agent and as an
operator (the test operator token in a 0600 file), text and JSON."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from typing import Any

from agentmail_server.domain.clock import ManualClock

from .conftest import PROJECT_KEY, Cli

BOB = ("--profile", "bob")


def operator_file(tmp_path: pathlib.Path, operator_md: Any) -> tuple[str, ...]:
    """Global options acting with the test operator's token, kept in a 0600 file."""
    path = tmp_path / "operator.token"
    token = dict(operator_md)["authorization"].removeprefix("Bearer ")
    path.write_text(token + "\n")
    path.chmod(0o600)
    return ("--token-file", str(path))


async def test_retire_and_unretire_yourself(crew: Cli) -> None:
    assert (await crew.ok("retire")).stdout == "Alice: retired\n"
    listed = (await crew.ok("agents", "--json")).json()
    assert [a["name"] for a in listed["items"]] == ["Bob"]
    refused = await crew(*BOB, "send", "--to", "Alice", "-s", "anyone there?", "--json")
    assert refused.code != 0 and "Traceback" not in refused.stderr
    back = (await crew.ok("unretire", "--json")).json()
    assert (back["name"], back["retired"]) == ("Alice", False)
    await crew.ok(*BOB, "send", "--to", "Alice", "-s", "welcome back")


async def test_only_an_operator_retires_or_revokes_another_agent(
    crew: Cli, tmp_path: pathlib.Path, operator_md: Any
) -> None:
    other = await crew("retire", "Bob", "--json")
    assert (other.code, other.error()["reason"]) == (4, "NOT_SELF")
    as_agent = await crew("revoke-tokens", "Bob", "--json")
    assert (as_agent.code, as_agent.error()["reason"]) == (4, "OPERATOR_REQUIRED")

    operator = operator_file(tmp_path, operator_md)
    assert (await crew.ok(*operator, "retire", "Bob")).stdout == "Bob: retired\n"
    assert (await crew.ok(*operator, "unretire", "Bob", "--json")).json()["retired"] is False
    revoked = (await crew.ok(*operator, "revoke-tokens", "Bob", "--json")).json()
    assert revoked == {"agent": "Bob", "revoked": 1, "tokenFile": None}
    locked_out = await crew(*BOB, "inbox", "--json")
    assert locked_out.code == 4

    new_file = tmp_path / "bob-new.token"
    issued = await crew.ok(*operator, "revoke-tokens", "Bob", "--new-token-file", str(new_file))
    assert issued.stdout == "Revoked 0 tokens of Bob\n"
    assert f"new token saved to {new_file}" in issued.stderr
    assert os.stat(new_file).st_mode & 0o777 == 0o600
    token = new_file.read_text().strip()
    assert token and token not in issued.stdout + issued.stderr
    await crew.ok(*BOB, "--token-file", str(new_file), "inbox")


async def test_unacknowledged_lists_what_you_still_owe(crew: Cli) -> None:
    assert (await crew.ok("unacknowledged", "--json")).json()["items"] == []
    sent = await crew.ok(
        *BOB, "send", "--to", "Alice", "-s", "sign off", "--ack-required", "--json"
    )
    message_id = sent.json()["message"]["id"]
    await crew.ok(*BOB, "send", "--to", "Alice", "-s", "no ack needed")
    owed = (await crew.ok("unacknowledged", "--json")).json()
    assert [item["message"]["id"] for item in owed["items"]] == [message_id]
    rows = (await crew.ok("unacknowledged")).stdout.splitlines()
    assert rows[0].split() == ["id", "from", "subject", "importance", "sent", "state"]
    assert rows[1].split()[:4] == [str(message_id), "Bob", "sign", "off"]
    assert rows[1].split()[-1] == "ack!,new"
    await crew.ok("ack", str(message_id))
    assert (await crew.ok("unacknowledged", "--json")).json()["items"] == []


async def test_force_release_is_refused_while_the_holder_is_active_and_an_operator_may(
    crew: Cli, tmp_path: pathlib.Path, operator_md: Any
) -> None:
    held = (await crew.ok("reserve", "src/**", "--json")).json()["granted"][0]
    refused = await crew(*BOB, "force-release", str(held["id"]), "--json")
    assert (refused.code, refused.error()["reason"]) == (5, "RESERVATION_ACTIVE")
    text = await crew(*BOB, "force-release", str(held["id"]))
    assert "staleAfterSeconds=" in text.stderr and "Traceback" not in text.stderr
    assert (await crew(*BOB, "force-release", "0")).code == 2

    operator = operator_file(tmp_path, operator_md)
    released = await crew.ok(*operator, "force-release", str(held["id"]), "--operator")
    assert released.stdout == f"Released #{held['id']} src/** (held by Alice)\n"
    assert released.stderr == ""  # an operator's release is told by an event, not mail
    mine = (await crew.ok("reservations", "--include-inactive", "--json")).json()
    assert [r["active"] for r in mine["items"]] == [False]


async def test_force_release_of_an_idle_holder_tells_the_holder(
    tmp_path: pathlib.Path, start_server: Callable[..., Any]
) -> None:
    clock = ManualClock(1_750_000_000_000_000)
    async with start_server(tmp_path / "data", clock=clock) as server:
        cli = Cli(tmp_path / "home", server.address)
        slug = (await cli.ok("project", "ensure", PROJECT_KEY)).stdout.strip()
        await cli.ok("--project", slug, "register", "Alice")
        await cli.ok(*BOB, "--project", slug, "register", "Bob")
        held = (await cli.ok("reserve", "docs/**", "--ttl", "7200", "--json")).json()
        reservation_id = held["granted"][0]["id"]
        clock.advance(seconds=3600)  # Alice idle for an hour: past the 30-minute threshold
        result = (
            await cli.ok(*BOB, "force-release", str(reservation_id), "--reason", "needed", "--json")
        ).json()
        assert result["reservation"]["active"] is False
        notice = result["notice_message_id"]
        assert notice > 0
        inbox = (await cli.ok("inbox", "--json")).json()
        assert [item["message"]["id"] for item in inbox["items"]] == [notice]
