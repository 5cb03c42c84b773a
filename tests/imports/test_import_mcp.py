"""``agentmail-admin import-mcp-agent-mail``: everything imported is checked through the API of
a server started on the data folder afterwards; a second run adds nothing; bad sources, a
running server and an existing tokens file fail in one line with exit code 2."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from agentmail_client import (
    AgentmailClient,
    ContactPolicy,
    ContactState,
    Importance,
    RecipientKind,
)

from .conftest import at, build_source, read_tokens

SHOP = "home-dev-shop"


def counts(data_dir):
    conn = sqlite3.connect(data_dir / "agentmail.sqlite3")
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "projects",
                "agents",
                "messages",
                "deliveries",
                "reservations",
                "contacts",
            )
        }
    finally:
        conn.close()


async def check_profiles(agents):
    green, red = agents["GreenCastle"], agents["RedStone"]
    # Asked by another agent first: GreenCastle's own calls make it active now.
    profile = await red.get_agent(SHOP, "GreenCastle")
    assert (profile.program, profile.model) == ("claude-code", "opus-4")
    assert profile.task_description == "orders service\nsecond line"
    assert profile.create_time == at(1) and profile.last_active_time == at(3600)
    assert profile.contact_policy is ContactPolicy.CONTACTS_ONLY
    assert (await green.get_agent(SHOP, "RedStone")).contact_policy is ContactPolicy.AUTO


async def check_mail(agents):
    green, blue = agents["GreenCastle"], agents["BlueLake"]
    red, fox = agents["RedStone"], agents["Purple_Fox"]
    (item,) = [i for i in (await blue.list_inbox()).items if i.message.subject == "Deploy plan"]
    plan = item.message
    assert (plan.sender, plan.to, plan.cc, plan.bcc) == (
        "GreenCastle",
        ("BlueLake",),
        ("RedStone",),
        (),
    )
    assert plan.body == "We deploy the **orders** service at noon."
    assert plan.importance is Importance.HIGH and plan.ack_required
    assert plan.create_time == at(10) and plan.project == SHOP
    assert (item.kind, item.read_time, item.ack_time) == (RecipientKind.TO, at(20), at(30))

    (item,) = (await red.list_inbox()).items
    assert (item.kind, item.read_time, item.ack_time, item.message.bcc) == (
        RecipientKind.CC,
        at(25),
        None,
        (),
    )
    (item,) = (await fox.list_inbox()).items  # an ack implies a read here
    assert (item.kind, item.read_time, item.ack_time) == (RecipientKind.BCC, at(26), at(26))
    assert item.message.bcc == ("Purple_Fox",)
    (sent,) = [m for m in (await green.list_outbox()).items if m.subject == "Deploy plan"]
    assert sent.bcc == ("Purple_Fox",)

    inbox = {i.message.subject: i.message for i in (await green.list_inbox()).items}
    assert set(inbox) == {"Re: Deploy plan", "Free-form thread"}
    reply = inbox["Re: Deploy plan"]
    assert reply.thread_id == plan.thread_id == str(plan.id)
    assert reply.importance is Importance.URGENT and reply.create_time == at(40)
    assert inbox["Free-form thread"].thread_id == "FEAT-7"
    assert inbox["Free-form thread"].importance is Importance.NORMAL
    thread = await green.get_thread(plan.thread_id)
    assert [m.subject for m in thread.items] == ["Deploy plan", "Re: Deploy plan"]
    assert [i.message.subject for i in (await blue.list_inbox()).items] == ["Deploy plan", "Cross"]

    hits = await blue.search_messages("orders")
    assert {h.message.subject for h in hits.items} == {"Deploy plan", "Re: Deploy plan"}

    (other,) = (await agents["OrangeHill"].list_outbox()).items
    assert (other.project, other.subject, other.to) == ("home-dev-other", "Other project", ())


async def check_coordination(agents, future):
    green, blue = agents["GreenCastle"], agents["BlueLake"]
    held = {
        (r.agent, r.pattern, r.exclusive, r.reason) for r in (await blue.list_reservations()).items
    }
    assert held == {
        ("GreenCastle", "src/orders/**", True, "refactor"),
        ("BlueLake", "docs/", False, "notes"),
    }
    (conflict,) = (await blue.check_conflicts("src/orders/api.py")).conflicts
    assert [h.agent for h in conflict.holders] == ["GreenCastle"]

    links = {(c.from_agent, c.to_agent): c for c in (await green.list_contacts()).items}
    assert set(links) == {("GreenCastle", "BlueLake"), ("RedStone", "GreenCastle")}
    approved = links[("GreenCastle", "BlueLake")]
    assert (approved.state, approved.reason, approved.expire_time) == (
        ContactState.APPROVED,
        "pairing",
        future,
    )
    assert links[("RedStone", "GreenCastle")].state is ContactState.PENDING
    blocked = [c for c in (await blue.list_contacts()).items if c.to_agent == "RedStone"]
    assert [(c.state, c.expire_time) for c in blocked] == [(ContactState.BLOCKED, None)]


async def test_every_field_arrives_and_a_second_run_adds_nothing(
    tmp_path, source, run_import, start_server
):
    data, tokens_file = tmp_path / "data", tmp_path / "tokens.tsv"
    code, out, err = run_import(source.path, data, "--tokens-file", str(tokens_file))
    assert code == 0, err
    assert "agents:       5 imported; 0 already there; 1 skipped (name collides" in out
    assert "messages:     5 imported; 0 already there; 1 skipped (sender not imported: 1)" in out
    assert "recipients:   6 imported" in out and "recipient in another project: 1" in out
    assert "unknown kind 'fyi': 1" in out
    assert "unknown importance: normal: 1" in out and "attachments not imported: 1" in out
    assert "reservations: 2 imported; 1 already there" in out
    assert "pattern refused (PARENT_REFERENCE): 1" in out
    assert "released: 1" in out and "expired: 1" in out
    assert "contacts:     3 imported" in out and "cross-project link" in out
    assert "renamed in home-dev-shop: 'Purple Fox' -> Purple_Fox" in out
    assert stat.S_IMODE(os.stat(tokens_file).st_mode) == 0o600
    tokens = read_tokens(tokens_file)
    assert set(tokens) == {"GreenCastle", "BlueLake", "RedStone", "Purple_Fox", "OrangeHill"}
    for token in tokens.values():
        assert token not in out + err
    before = counts(data)

    async with start_server(data) as server, AgentmailClient(server.address) as client:
        agents = {name: client.with_token(token) for name, token in tokens.items()}
        await check_profiles(agents)
        await check_mail(agents)
        await check_coordination(agents, source.future)

    code, out, _ = run_import(source.path, data)
    assert code == 0
    for kind in ("projects", "agents", "messages", "reservations", "contacts"):
        assert f"{kind + ':':<14}0 imported" in out
    assert "messages:     0 imported; 5 already there" in out
    assert "no new agent" in out
    assert counts(data) == before


@pytest.mark.archive
async def test_a_server_started_after_the_import_archives_the_imported_mail(
    tmp_path, source, run_import, start_server
):
    from agentmail_server.archive import ArchiveDatabase, verify  # noqa: PLC0415

    data = tmp_path / "data"
    assert run_import(source.path, data)[0] == 0
    newest = counts(data)["messages"]
    async with start_server(data, archive_interval_seconds=0.0) as server:
        await server.archive.wait_until_archived(newest, 30.0)
    report = verify(ArchiveDatabase(data / "agentmail.sqlite3"), data / "archive.git")
    assert report.messages == newest and report.agents == 5
    assert not report.missing and not report.different and not report.agent_problems


async def test_the_rust_ports_integer_times_read_the_same(tmp_path, run_import, start_server):
    built = build_source(tmp_path / "rust.sqlite3", flavour="rust")
    data, tokens_file = tmp_path / "data", tmp_path / "tokens.tsv"
    code, out, _ = run_import(built.path, data, "--tokens-file", str(tokens_file))
    assert code == 0 and "rust server's schema" in out
    tokens = read_tokens(tokens_file)
    async with start_server(data) as server, AgentmailClient(server.address) as client:
        (item,) = [
            i
            for i in (await client.with_token(tokens["BlueLake"]).list_inbox()).items
            if i.message.subject == "Deploy plan"
        ]
        assert (item.message.create_time, item.read_time, item.ack_time) == (at(10), at(20), at(30))


async def test_an_interrupted_import_resumes_without_duplicates(tmp_path, source, run_import):
    data = tmp_path / "data"
    assert run_import(source.path, data)[0] == 0
    full = counts(data)
    conn = sqlite3.connect(data / "agentmail.sqlite3")
    # As if the run had stopped before its last message transaction: the newest mail is gone.
    newest = conn.execute("SELECT max(id) FROM messages").fetchone()[0]
    conn.execute("DELETE FROM deliveries WHERE message_id = ?", (newest,))
    conn.execute("DELETE FROM idempotency_keys WHERE message_id = ?", (newest,))
    conn.execute("DELETE FROM messages WHERE id = ?", (newest,))
    conn.commit()
    conn.close()
    code, out, _ = run_import(source.path, data)
    assert code == 0 and "messages:     1 imported; 4 already there" in out
    assert counts(data) == full


async def test_a_running_server_is_refused_and_nothing_is_written(
    tmp_path, source, run_import, start_server
):
    data = tmp_path / "data"
    async with start_server(data):
        before = counts(data)
        code, out, err = run_import(source.path, data)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "in use by another agentmail server" in err
    assert counts(data) == before


def test_an_existing_tokens_file_is_refused_before_anything_is_written(
    tmp_path, source, run_import
):
    tokens_file = tmp_path / "tokens.tsv"
    tokens_file.write_text("keep me\n")
    code, _, err = run_import(source.path, tmp_path / "data", "--tokens-file", str(tokens_file))
    assert code == 2 and "already exists" in err and err.count("\n") == 1
    assert tokens_file.read_text() == "keep me\n"
    assert not (tmp_path / "data" / "agentmail.sqlite3").exists()


def _older_schema(path):
    build_source(path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE agent_links")
    conn.commit()
    conn.close()


def _missing_column(path):
    build_source(path)
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE message_recipients DROP COLUMN ack_ts")
    conn.commit()
    conn.close()


def _other_sqlite(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (None, "no such file"),
        (
            lambda p: p.write_bytes(b"not a database, just text\n" * 100),
            "is not an SQLite database",
        ),
        (_other_sqlite, "is not an mcp_agent_mail database"),
        (_older_schema, "unsupported mcp_agent_mail schema in"),
        (_missing_column, "table message_recipients has no column ack_ts"),
    ],
    ids=["missing", "not-sqlite", "other-sqlite", "older-schema", "missing-column"],
)
def test_a_bad_source_fails_in_one_line_before_anything_is_written(
    tmp_path, run_import, make, expected
):
    path = tmp_path / "source.sqlite3"
    if make is not None:
        make(path)
    code, out, err = run_import(path, tmp_path / "data")
    assert code == 2 and out == ""
    assert err.startswith("agentmail-admin import-mcp-agent-mail: ") and err.count("\n") == 1
    assert expected in err
    assert not (tmp_path / "data" / "agentmail.sqlite3").exists()


async def test_an_agentmail_database_is_recognised_as_such(tmp_path, source, run_import):
    data = tmp_path / "data"
    assert run_import(source.path, data)[0] == 0
    code, _, err = run_import(data / "agentmail.sqlite3", tmp_path / "other")
    assert code == 2 and "is an agentmail database, not an mcp_agent_mail one" in err
