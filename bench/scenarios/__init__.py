"""The scenarios of issue 5 (and of later issues: 9 is issue 16's) and where each runs.

``main`` scenarios share one server (uvloop on, ceilings measured first) whose data folder is
seeded for all of them before it starts; ``standalone`` ones start their own servers;
``skipped`` ones are registered but wait for the feature they measure.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Kind = Literal["main", "standalone", "skipped"]


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One scenario: its id, title, how it runs, and why it is skipped if it is."""

    id: str
    title: str
    kind: Kind
    skip_reason: str = ""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "1", "durable send: sequential, 1/8/64/256 in flight, 10 recipients, broadcast", "main"
    ),
    Scenario("2", "inbox page of 50, with and without bodies, small and huge inbox", "standalone"),
    Scenario(
        "3",
        "search: selective term, common term, phrase, prefix on N seeded messages",
        "standalone",
    ),
    Scenario(
        "4",
        "subscriptions: delivery latency at offered rates, idle memory, 1,000-recipient fan-out",
        "main",
    ),
    Scenario(
        "5",
        "archive on vs off: send throughput and archive lag",
        "standalone",
    ),
    Scenario("6", "mixed agent workload with subscriptions", "main"),
    Scenario(
        "7",
        "reservations: ReservePaths and CheckConflicts with 1,000 active reservations",
        "standalone",
    ),
    Scenario(
        "8",
        "TLS vs plaintext: empty RPC and durable sends, rate limits on",
        "standalone",
    ),
    Scenario(
        "9",
        "MCP bridge: SendMessage to wait_for_mail's return, and the bridge's start-up",
        "standalone",
    ),
    Scenario("uvloop", "uvloop on vs off: empty RPC, stream and sends", "standalone"),
    Scenario(
        "import",
        "import from mcp_agent_mail: messages/s, CPU per message, a second run",
        "standalone",
    ),
    Scenario(
        "bulk",
        "bulk send: SendMessages at 1/8/64/256 per call beside the empty RPC and unary sends",
        "standalone",
    ),
    Scenario(
        "scaleout",
        "scale-out: sends with 1/2/3 processes on PostgreSQL beside SQLite and the empty RPC",
        "standalone",
    ),
)

BY_ID = {scenario.id: scenario for scenario in SCENARIOS}
