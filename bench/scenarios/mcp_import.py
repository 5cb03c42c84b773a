"""Scenario ``import``: ``agentmail-admin import-mcp-agent-mail`` on N synthetic messages.

A source database in mcp_agent_mail's schema (the Python server's, times as text) holds one
project, ten agents and N messages of 512-byte bodies, each from one of the agents to two
others (one ``to``, one ``cc``), every third read. The command runs as its own process, as an
operator runs it (no progress bar); its wall time and CPU (the child's user + system time, read
from ``getrusage``) give messages per second and CPU microseconds per message. Then the same
command again: the idempotent pass, which checks every message and adds none.

Two references from the same run stand beside the figure, since an import makes no RPC:

- ``import.ceiling.seed``: the bench seeder writing the same number of messages straight
  through ``storage.sqlite.writes`` on a writer connection (the write path the import uses,
  without reading a source, mapping names or setting read times): the import's ratio to it is
  what the import adds on top of storing.
- ``import.ceiling.unary.c64``: the empty unary RPC at 64 in flight on a server started on
  the imported data folder (which also proves the server starts on it): the import's ratio to
  it is how many unary sends' worth of call rate one import moves.
"""

from __future__ import annotations

import datetime
import resource
import subprocess
import sys
import time

from bench.core import Ceiling, Measurement, Run, log
from bench.mcp_fixture import McpDatabase
from bench.scenarios import ceiling
from bench.seed import Seeder, body_text
from bench.server import running_server

SCENARIO = "import"
AGENTS = 10
# Messages per scale (no field in bench.scale: only this scenario uses it).
MESSAGES = {"tiny": 500, "quick": 20_000, "full": 100_000}
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def _source(run: Run, count: int) -> tuple[str, float]:
    """Write the source database; its path and how long writing it took."""
    path = run.scratch / "mcp-source.sqlite3"
    started = time.perf_counter()
    db = McpDatabase(path)
    project = db.project("/bench/import", START)
    agents = [db.agent(project, f"Agent{i}", START) for i in range(AGENTS)]
    body = body_text(7)
    per_sender = count // AGENTS
    for i, sender in enumerate(agents):
        to, cc = agents[(i + 1) % AGENTS], agents[(i + 2) % AGENTS]
        offset = datetime.timedelta(seconds=i * per_sender)
        db.many_messages(project, sender, (to,), per_sender, START + offset, body)
        db.conn.execute(
            "INSERT INTO message_recipients (message_id, agent_id, kind)"
            " SELECT id, ?, 'cc' FROM messages WHERE sender_id = ?",
            (cc, sender),
        )
    db.conn.execute(
        "UPDATE message_recipients SET read_ts = '2025-06-01 00:00:00.000000'"
        " WHERE message_id % 3 = 0"
    )
    db.close()
    return str(path), time.perf_counter() - started


def _timed_import(source: str, data: str) -> tuple[float, float, str]:
    """Run the command; (wall seconds, child CPU seconds, its output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentmail_server.admin",
            "import-mcp-agent-mail",
            source,
            "--data-dir",
            data,
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"import failed ({done.returncode}): {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _seed_reference(run: Run, count: int) -> Ceiling:
    with Seeder(run.data_dir("import-seed")) as seeder:
        project = seeder.project("/bench/import-seed", ["Sender", "Reader"])
        rate, _, _ = seeder.inbox(
            project, project.agent("Sender"), project.agent("Reader"), count, batch=2000
        )
    measurement = run.add(
        Measurement(
            key="import.ceiling.seed",
            scenario=SCENARIO,
            name=f"storage writes alone (bench seeder), {count:,} messages",
            value={"throughput": round(rate, 1), "count": count},
            note="messages/s through storage.sqlite.writes.insert_message in batches of 2,000",
        )
    )
    return Ceiling(measurement.key, measurement.name, rate, {})


def _figures(count: int, wall: float, cpu: float) -> dict[str, float]:
    return {
        "throughput": round(count / wall, 1),
        "seconds": round(wall, 2),
        "cpu_us_per_message": round(cpu / count * 1e6, 1),
        "count": count,
    }


def run_scenario(run: Run) -> None:
    """Build the source, import it twice, then start a server on the result for a ceiling."""
    count = MESSAGES.get(run.scale.name, MESSAGES["quick"])
    count -= count % AGENTS
    source, built = _source(run, count)
    log(f"scenario import: wrote a {count:,}-message mcp_agent_mail database in {built:.1f} s")
    seed = _seed_reference(run, count)
    data = run.data_dir("import")
    wall, cpu, out = _timed_import(source, str(data))
    if f"messages:     {count} imported" not in out:
        raise RuntimeError(f"the import did not import {count} messages:\n{out}")
    again_wall, again_cpu, again = _timed_import(source, str(data))
    if "messages:     0 imported" not in again:
        raise RuntimeError(f"the second import added messages:\n{again}")
    with running_server(data, cpus=run.server_cpus, archive=False) as server:
        run.settled("import", server)
        unary = ceiling.unary(run, server, "import.ceiling", 64, SCENARIO, " (imported data)")
    first = run.add(
        Measurement(
            key="import.first",
            scenario=SCENARIO,
            name=f"import of {count:,} messages (2 recipients each, a third read)",
            value={
                **_figures(count, wall, cpu),
                "per_empty_rpc_c64": round(count / wall / unary.value["throughput"], 3),
            },
            ceiling=seed,
            note="ratio: against storage writes alone in the same run; per_empty_rpc_c64: "
            "messages/s over the empty unary RPC's calls/s at 64 in flight on the imported "
            "data; wall time includes the process start and the final WAL checkpoint",
        )
    )
    run.add(
        Measurement(
            key="import.again",
            scenario=SCENARIO,
            name=f"second import of the same {count:,} messages (adds nothing)",
            value=_figures(count, again_wall, again_cpu),
            ceiling=Ceiling(first.key, first.name, first.value["throughput"], {}),
            note="messages checked per second; ratio: against the first import",
        )
    )
