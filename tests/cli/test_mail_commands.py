"""send, reply, inbox, read, ack, thread, summary and search, in both output formats."""

from __future__ import annotations

from .conftest import Cli

BOB = ("--profile", "bob")


async def test_send_takes_the_body_from_an_argument_a_file_or_stdin(crew: Cli) -> None:
    sent = await crew.ok(*BOB, "send", "--to", "Alice", "-s", "argument", "from the argument")
    assert sent.stdout.startswith("Sent #") and "to Alice" in sent.stdout
    body_file = crew.home / "body.txt"
    body_file.write_text("from the file\n")
    await crew.ok(*BOB, "send", "--to", "Alice", "-s", "file", "--file", str(body_file))
    await crew.ok(*BOB, "send", "--to", "Alice", "-s", "stdin", "-", stdin="from stdin")
    page = (await crew.ok("inbox", "--json")).json()
    assert [(i["message"]["subject"], i["message"]["body"]) for i in page["items"]] == [
        ("argument", "from the argument"),
        ("file", "from the file\n"),
        ("stdin", "from stdin"),
    ]
    both = await crew(*BOB, "send", "--to", "Alice", "-s", "x", "body", "--file", str(body_file))
    assert both.code == 2


async def test_send_options_reach_the_message(crew: Cli) -> None:
    slug = (await crew.ok("whoami", "--json")).json()["project"]
    await crew.ok("--project", slug, "--profile", "carol", "register", "Carol")
    sent = (
        await crew.ok(
            *BOB,
            "send",
            "--to",
            "Alice",
            "--cc",
            "Carol",
            "--importance",
            "urgent",
            "--ack-required",
            "--topic",
            "build",
            "-s",
            "options",
            "body",
            "--json",
        )
    ).json()
    message = sent["message"]
    assert (message["to"], message["cc"], message["importance"]) == (["Alice"], ["Carol"], "urgent")
    assert (message["ack_required"], message["topic"], sent["deduplicated"]) == (
        True,
        "build",
        False,
    )


async def test_an_idempotency_key_makes_a_retried_send_safe(crew: Cli) -> None:
    args = (*BOB, "send", "--to", "Alice", "-s", "once", "--idempotency-key", "k-1", "--json")
    first = (await crew.ok(*args)).json()
    second = (await crew.ok(*args)).json()
    assert second["deduplicated"] is True
    assert second["message"]["id"] == first["message"]["id"]
    # Without a key, each invocation is a new message.
    plain = (*BOB, "send", "--to", "Alice", "-s", "twice", "--json")
    assert (await crew.ok(*plain)).json()["message"]["id"] != (await crew.ok(*plain)).json()[
        "message"
    ]["id"]
    assert len((await crew.ok("inbox", "--json")).json()["items"]) == 3


async def test_unknown_recipients_and_messages_are_not_found(crew: Cli) -> None:
    missing = await crew(*BOB, "send", "--to", "Nobody", "-s", "x", "--json")
    assert missing.code == 3
    report = missing.error()
    assert report["reason"] == "RECIPIENT_NOT_FOUND" and "Nobody" in str(report["metadata"])
    text = await crew("read", "999999")
    assert text.code == 3 and "Traceback" not in text.stderr
    assert text.stderr.startswith("agentmail: error: [MESSAGE_NOT_FOUND]")


async def test_read_ack_and_inbox_filters(crew: Cli) -> None:
    quiet = (await crew.ok(*BOB, "send", "--to", "Alice", "-s", "quiet", "q", "--json")).json()
    loud = (
        await crew.ok(
            *BOB,
            "send",
            "--to",
            "Alice",
            "-s",
            "loud",
            "--importance",
            "high",
            "--ack-required",
            "--json",
        )
    ).json()
    quiet_id, loud_id = quiet["message"]["id"], loud["message"]["id"]
    urgent = (await crew.ok("inbox", "--urgent", "--json")).json()
    assert [i["message"]["id"] for i in urgent["items"]] == [loud_id]
    shown = await crew.ok("read", str(quiet_id))
    assert "subject:    quiet" in shown.stdout and shown.stdout.endswith("\nq\n")
    unread = (await crew.ok("inbox", "--unread", "--json")).json()
    assert [i["message"]["id"] for i in unread["items"]] == [loud_id]
    peeked = (await crew.ok("read", str(loud_id), "--no-mark", "--json")).json()
    assert peeked["delivery"]["read_time"] is None
    acked = await crew.ok("ack", str(loud_id))
    assert acked.stdout.startswith(f"Acknowledged #{loud_id} at ")
    again = (await crew.ok("ack", str(loud_id), "--json")).json()
    assert again["deliveries"][0]["ack_time"] is not None
    rows = (await crew.ok("inbox")).stdout.splitlines()
    assert rows[0].split() == ["id", "from", "subject", "importance", "sent", "state"]
    assert rows[2].split()[-1] == "acked,read"


async def test_inbox_pages(crew: Cli) -> None:
    for n in range(3):
        await crew.ok(*BOB, "send", "--to", "Alice", "-s", f"m{n}")
    first = await crew.ok("inbox", "--limit", "2", "--json")
    page = first.json()
    assert [i["message"]["subject"] for i in page["items"]] == ["m0", "m1"]
    token = page["next_page_token"]
    rest = (await crew.ok("inbox", "--limit", "2", "--page-token", token, "--json")).json()
    assert [i["message"]["subject"] for i in rest["items"]] == ["m2"]
    text = await crew.ok("inbox", "--limit", "2")
    assert f"next page: --page-token {token}" in text.stderr
    newest = (await crew.ok("inbox", "--newest-first", "--limit", "1", "--json")).json()
    assert newest["items"][0]["message"]["subject"] == "m2"


async def test_reply_thread_summary_and_search(crew: Cli) -> None:
    asked = (
        await crew.ok(*BOB, "send", "--to", "Alice", "-s", "deploy plan", "TODO: check the zebra")
    ).stdout
    message_id = asked.split("#")[1].split()[0]
    replied = (await crew.ok("reply", message_id, "zebra checked", "--json")).json()
    thread_id = replied["message"]["thread_id"]
    assert replied["message"]["to"] == ["Bob"]
    assert replied["message"]["subject"] == "Re: deploy plan"
    thread = (await crew.ok("thread", thread_id, "--json")).json()
    assert [m["sender"] for m in thread["items"]] == ["Bob", "Alice"]
    text = (await crew.ok("thread", thread_id)).stdout
    assert "TODO: check the zebra" in text and "zebra checked" in text
    summary = (await crew.ok("summary", thread_id, "--recent", "1", "--json")).json()
    assert (summary["message_count"], sorted(summary["participants"])) == (2, ["Alice", "Bob"])
    assert "participants: " in (await crew.ok("summary", thread_id)).stdout
    hits = (await crew.ok("search", "zebra", "--json")).json()
    assert sorted(h["message"]["sender"] for h in hits["items"]) == ["Alice", "Bob"]
    sent_only = (await crew.ok("search", "zebra", "--scope", "sent", "--json")).json()
    assert [h["message"]["sender"] for h in sent_only["items"]] == ["Alice"]
    table = (await crew.ok("search", "zebra", "--from", "Bob")).stdout.splitlines()
    assert table[0].split()[:3] == ["id", "from", "subject"] and len(table) == 2
    empty = await crew("search", "")
    assert empty.code == 2, empty
    assert empty.stderr == "agentmail: error: [INVALID_QUERY] query: is required\n"


async def test_reply_as_text_and_to_a_missing_message(crew: Cli) -> None:
    await crew.ok(*BOB, "send", "--to", "Alice", "-s", "question", "?")
    message_id = (await crew.ok("inbox", "--json")).json()["items"][0]["message"]["id"]
    replied = await crew.ok("reply", str(message_id), "-", stdin="answer")
    assert replied.stdout.startswith("Sent #") and "to Bob" in replied.stdout
    missing = await crew("reply", "999999", "x")
    assert missing.code == 3
