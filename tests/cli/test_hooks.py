"""``agentmail hook wait`` and ``hook check`` as a harness runs them: subprocesses, exit codes,
what they print where, state kept between runs; against a real server."""

from __future__ import annotations

import asyncio
import json
import pathlib
import time

from .conftest import Cli, Result

BOB = ("--profile", "bob")
WAKE_SECONDS = 30


def state_files(cli: Cli, suffix: str) -> list[pathlib.Path]:
    return sorted((cli.home / "state" / "agentmail" / "hooks").glob(f"*{suffix}"))


async def finish(process: asyncio.subprocess.Process) -> Result:
    out, err = await asyncio.wait_for(process.communicate(), WAKE_SECONDS)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def send(cli: Cli, subject: str, *flags: str) -> int:
    sent = await cli.ok(*BOB, "send", "--to", "Alice", "-s", subject, *flags, "--json")
    return int(sent.json()["message"]["id"])


async def test_wait_wakes_with_headlines_on_stderr_and_exit_2_when_another_client_sends(
    crew: Cli,
) -> None:
    # The first wait starts the cursor at the inbox tail: what follows is reported once.
    assert await crew.ok("hook", "wait", "--timeout", "0") == Result(0, "", "")
    waiting = await crew.spawn("hook", "wait", "--timeout", "120")
    sent_at = time.perf_counter()
    message_id = await send(crew, "Deploy plan", "--importance", "urgent", "--ack-required")
    woken = await finish(waiting)
    latency = time.perf_counter() - sent_at
    assert latency < WAKE_SECONDS
    assert (woken.code, woken.stdout) == (2, ""), woken
    lines = woken.stderr.splitlines()
    assert lines[0] == "agentmail: 1 new message for Alice (1 urgent):"
    assert lines[1] == f"  #{message_id} from Bob [urgent, ack required]: Deploy plan"
    assert "agentmail inbox --unread" in lines[-1]
    # Reported once: the next wait has nothing new and times out quietly.
    assert await crew.ok("hook", "wait", "--timeout", "0.2") == Result(0, "", "")


async def test_wait_reports_mail_that_came_between_two_waits_and_skips_mail_already_read(
    crew: Cli,
) -> None:
    await crew.ok("hook", "wait", "--timeout", "0")
    read_already = await send(crew, "seen during the turn")
    await crew.ok("read", str(read_already))
    later = await send(crew, "arrived while no wait ran")
    woken = await crew("hook", "wait", "--timeout", "60", "--json")
    assert woken.code == 2, woken
    assert [m["id"] for m in woken.json()["messages"]] == [later]
    assert woken.json()["messages"][0]["subject"] == "arrived while no wait ran"


async def test_wait_times_out_quietly_and_keeps_no_body(crew: Cli) -> None:
    await crew.ok("hook", "wait", "--timeout", "0")
    await send(crew, "subject line", "the secret body")
    woken = await crew("hook", "wait", "--timeout", "60")
    assert woken.code == 2 and "the secret body" not in woken.stderr
    started = time.perf_counter()
    assert await crew.ok("hook", "wait", "--timeout", "1") == Result(0, "", "")
    assert time.perf_counter() - started >= 1.0


async def test_a_newer_wait_takes_over_and_the_older_exits_quietly(crew: Cli) -> None:
    await crew.ok("hook", "wait", "--timeout", "0")
    (lock,) = state_files(crew, ".wait-lock")
    older = await crew.spawn("hook", "wait", "--timeout", "120")
    async with asyncio.timeout(WAKE_SECONDS):
        while lock.read_text().strip() != str(older.pid):
            assert older.returncode is None
            await asyncio.sleep(0.02)
    newer = await crew.spawn("hook", "wait", "--timeout", "120")
    assert await finish(older) == Result(0, "", "")
    message_id = await send(crew, "only once")
    woken = await finish(newer)
    assert woken.code == 2 and f"#{message_id} from Bob: only once" in woken.stderr
    assert lock.read_text() == ""


async def test_a_refused_cursor_is_reset_and_wakes_the_agent_with_a_hint(crew: Cli) -> None:
    await crew.ok("hook", "wait", "--timeout", "0")
    (cursor,) = state_files(crew, ".wait-cursor")
    cursor.write_text("not-a-cursor")
    woken = await crew("hook", "wait", "--timeout", "5")
    assert woken.code == 2, woken
    assert "was reset" in woken.stderr and "agentmail inbox --unread" in woken.stderr
    assert "Traceback" not in woken.stderr and not cursor.exists()
    assert await crew.ok("hook", "wait", "--timeout", "0") == Result(0, "", "")


async def test_wait_errors_exit_1_never_2(crew: Cli, tmp_path: pathlib.Path) -> None:
    usage = await crew("hook", "wait", "--timeout", "-1")
    assert usage.code == 1 and "--timeout" in usage.stderr
    no_token = await crew("--token-file", str(tmp_path / "absent.token"), "hook", "wait")
    assert no_token.code == 1
    assert no_token.stderr.startswith("agentmail: hook wait: [TOKEN_MISSING]")
    away = await crew(
        "--address", "127.0.0.1:1", "--timeout", "0.5", "hook", "wait", "--timeout", "0"
    )
    assert away.code == 1 and away.stderr.startswith("agentmail: hook wait: "), away


async def test_check_prints_once_then_nothing_then_again_after_new_mail(crew: Cli) -> None:
    assert await crew.ok("hook", "check") == Result(0, "", "")
    first = await send(crew, "First", "--importance", "high")
    await send(crew, "Second")
    line = (await crew.ok("hook", "check")).stdout
    assert line.count("\n") == 1
    assert line.startswith("agentmail: 2 unread for Alice (1 urgent, 2 new since the last check)")
    assert "Newest: #" in line and '"Second" (Bob)' in line and "from Bob (2)" in line
    assert await crew.ok("hook", "check") == Result(0, "", "")
    # Reading mail shrinks the unread set: nothing new to say.
    await crew.ok("read", str(first))
    assert await crew.ok("hook", "check") == Result(0, "", "")
    third = await send(crew, "Third")
    again = (await crew.ok("hook", "check", "--json")).json()
    assert (again["unread"], again["new"], again["more"], again["urgent"]) == (2, 1, False, 0)
    assert again["messages"][0]["id"] == third
    assert await crew.ok("hook", "check") == Result(0, "", "")


async def test_check_never_fails_the_prompt(crew: Cli, tmp_path: pathlib.Path) -> None:
    away = await crew("--address", "127.0.0.1:1", "hook", "check")
    assert (away.code, away.stdout) == (0, "")
    assert away.stderr.startswith("agentmail: hook check: ") and away.stderr.count("\n") == 1
    no_token = await crew("--token-file", str(tmp_path / "absent.token"), "hook", "check")
    assert (no_token.code, no_token.stdout) == (0, "")
    assert "[TOKEN_MISSING]" in no_token.stderr
    assert (await crew("hook", "check", "--bogus")).code == 1


async def test_hook_state_is_kept_per_agent(crew: Cli) -> None:
    await crew.ok("hook", "check")
    await crew.ok(*BOB, "hook", "check")
    await crew.ok("hook", "wait", "--timeout", "0")
    await crew.ok(*BOB, "hook", "wait", "--timeout", "0")
    names = [path.name for path in state_files(crew, "")]
    assert len([n for n in names if n.endswith(".check.json")]) == 2
    assert len([n for n in names if n.endswith(".wait-cursor")]) == 2
    assert all("Alice" in n or "Bob" in n for n in names)
    for path in state_files(crew, ".check.json"):
        assert json.loads(path.read_text()) == {"unread": []}
