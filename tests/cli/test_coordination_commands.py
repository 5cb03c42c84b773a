"""reserve, renew, release, reservations, contacts, contact, policy and pending-acks."""

from __future__ import annotations

from .conftest import Cli

BOB = ("--profile", "bob")


async def test_reservations_conflict_renew_and_release(crew: Cli) -> None:
    granted = (await crew.ok("reserve", "src/**", "--reason", "refactor", "--json")).json()
    [mine] = granted["granted"]
    assert (mine["pattern"], mine["exclusive"], granted["conflicts"]) == ("src/**", True, [])
    refused = await crew(*BOB, "reserve", "src/app.py", "--json")
    assert refused.code == 5
    [conflict] = refused.json()["conflicts"]
    assert conflict["pattern"] == "src/app.py"
    assert [h["agent"] for h in conflict["holders"]] == ["Alice"]
    text = await crew(*BOB, "reserve", "src/app.py")
    assert text.code == 5
    assert "src/app.py  Alice    src/**" in text.stdout
    advisory = await crew(*BOB, "reserve", "src/app.py", "--advisory", "--json")
    assert advisory.code == 0 and advisory.json()["conflicts"]

    listed = (await crew.ok("reservations", "--holder", "Alice", "--json")).json()
    assert [r["id"] for r in listed["items"]] == [mine["id"]]
    assert "refactor" in (await crew.ok("reservations")).stdout
    renewed = (await crew.ok("renew", str(mine["id"]), "--extend", "600", "--json")).json()
    assert renewed["reservations"][0]["expire_time"] > mine["expire_time"]
    released = (await crew.ok("release", "src/**", "--json")).json()
    assert [r["active"] for r in released["reservations"]] == [False]
    assert (await crew("release")).code == 2
    gone = (await crew.ok("reservations", "--holder", "Alice", "--json")).json()
    assert gone["items"] == []
    history = await crew.ok("reservations", "--holder", "Alice", "--include-inactive")
    assert "released" in history.stdout
    assert (await crew.ok(*BOB, "release", "--all")).stdout.startswith("id")


async def test_contacts_policy_and_blocking(crew: Cli) -> None:
    assert (await crew.ok("policy", "--json")).json() == {"agent": "Alice", "policy": "auto"}
    assert (await crew.ok("policy", "contacts_only")).stdout == "Alice: contacts_only\n"
    refused = await crew(*BOB, "send", "--to", "Alice", "-s", "hi")
    assert refused.code == 4
    assert "[CONTACT_REQUIRED]" in refused.stderr
    requested = (
        await crew.ok(*BOB, "contact", "request", "Alice", "--reason", "pairing", "--json")
    ).json()
    assert requested["contact"]["state"] == "pending"
    assert "pairing" in (await crew.ok("contacts")).stdout
    approved = (await crew.ok("contact", "approve", "Bob", "--json")).json()
    assert approved["state"] == "approved"
    await crew.ok(*BOB, "send", "--to", "Alice", "-s", "now allowed")
    blocked = await crew.ok("contact", "block", "Bob")
    assert "blocked" in blocked.stdout
    again = await crew(*BOB, "send", "--to", "Alice", "-s", "blocked", "--json")
    assert (again.code, again.error()["reason"]) == (4, "CONTACT_BLOCKED")
    listed = (await crew.ok("contacts", "--json")).json()
    assert [c["state"] for c in listed["items"]] == ["blocked"]
    assert (await crew("policy", "sometimes")).code == 2


async def test_pending_acks(crew: Cli) -> None:
    sent = (
        await crew.ok("send", "--to", "Bob", "-s", "please ack", "--ack-required", "--json")
    ).json()
    message_id = sent["message"]["id"]
    pending = (await crew.ok("pending-acks", "--json")).json()
    assert [
        (p["message"]["id"], [r["recipient"] for r in p["pending"]]) for p in pending["items"]
    ] == [(message_id, ["Bob"])]
    rows = (await crew.ok("pending-acks")).stdout.splitlines()
    assert rows[1].split()[0] == str(message_id) and "Bob" in rows[1]
    overdue = (await crew.ok("pending-acks", "--overdue", "--json")).json()
    assert overdue["items"] == []
    await crew.ok(*BOB, "ack", str(message_id))
    assert (await crew.ok("pending-acks", "--json")).json()["items"] == []


async def test_the_remaining_text_and_json_forms(crew: Cli) -> None:
    """The forms the other tests leave out: renew, contact request and approve as text."""
    await crew.ok("reserve", "docs/**")
    renewed = (await crew.ok("renew", "docs/**")).stdout.splitlines()
    assert renewed[0].split()[:3] == ["id", "agent", "pattern"]
    assert renewed[1].split()[1:3] == ["Alice", "docs/**"]
    assert (await crew("renew")).code == 2
    requested = (await crew.ok(*BOB, "contact", "request", "Alice", "--reason", "review")).stdout
    assert requested.splitlines()[1].split()[:2] == ["Bob", "Alice"]
    approved = (await crew.ok("contact", "approve", "Bob")).stdout
    assert approved.splitlines()[1].split()[:3] == ["Bob", "Alice", "approved"]
    unknown = await crew("contact", "approve", "Nobody")
    assert unknown.code == 3, unknown
