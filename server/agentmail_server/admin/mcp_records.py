"""What an import produced: per-kind tallies, the report, and a source agent's identity here.

Shared by the import's core (:mod:`.mcp_import`), its coordination step
(:mod:`.mcp_coordination`) and the command that prints the summary (:mod:`.mcp_command`).
"""

from __future__ import annotations

import collections
import dataclasses

KINDS = ("projects", "agents", "messages", "recipients", "reservations", "contacts")


@dataclasses.dataclass
class Tally:
    """One kind's outcome: rows added, rows already there, rows left out (by reason) and
    rows added with a change (by what changed)."""

    imported: int = 0
    present: int = 0
    skipped: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    adjusted: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


@dataclasses.dataclass
class Report:
    """What an import did.

    Attributes:
        flavour: ``python`` or ``rust`` (which server wrote the source).
        tallies: per kind (:data:`KINDS`).
        renamed: ``(project human key, source name, agentmail name)`` of renamed agents.
        new_agents: ``(project slug, name, token)`` of agents created by this run; tokens
            are for the tokens file only, never printed.
        seconds: how long the load took.
    """

    flavour: str
    tallies: dict[str, Tally]
    renamed: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    new_agents: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class Mapped:
    """A source agent's agentmail identity."""

    agent_id: int
    name: str
    project_id: int
