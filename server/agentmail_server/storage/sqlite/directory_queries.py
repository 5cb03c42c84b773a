"""Reads of the agent directory's coordination state: filtered agent lists and contact links.

Index seeks only: the capability filter seeks ``agent_capabilities``; a caller's links seek
``contacts`` by requester and by target and merge the two in id order.
"""

from __future__ import annotations

from agentmail_server.domain.contacts import ContactLink
from agentmail_server.domain.filters import AgentFilter
from agentmail_server.domain.models import Agent
from agentmail_server.storage.sqlite.contacts import LINK_COLUMNS, LINK_FROM, link_from_row
from agentmail_server.storage.sqlite.readers import ReadPool
from agentmail_server.storage.sqlite.rows import AGENT_COLUMNS, AGENT_FROM, agent_from_row

# AGENT_FROM names its tables ``a`` (agents) and ``p`` (projects); the capability filter
# starts from ``c`` (agent_capabilities) and joins the same two.


async def agents(
    pool: ReadPool, project_id: int, after_id: int, limit: int, flt: AgentFilter | None
) -> list[Agent]:
    """A project's agents in registration order after ``after_id``, filtered by ``flt``."""
    flt = flt or AgentFilter(include_retired=True)
    clauses = ["a.project_id = ?", "a.id > ?"]
    params: list[object] = [project_id, after_id]
    source = AGENT_FROM
    if flt.capability_key:
        # Seek the capability's rows in agent order, then each agent by primary key.
        source = (
            "agent_capabilities c JOIN agents a ON a.id = c.agent_id"
            " JOIN projects p ON p.id = a.project_id"
        )
        clauses = ["c.project_id = ?", "c.capability_key = ?", "c.agent_id > ?"]
        params = [project_id, flt.capability_key, after_id]
    if not flt.include_retired:
        clauses.append("a.retired_at IS NULL")
    if flt.active_since is not None:
        clauses.append("coalesce(a.last_active_at, a.created_at) >= ?")
        params.append(flt.active_since)
    order = "c.agent_id" if flt.capability_key else "a.id"
    rows = await pool.fetchall(
        f"SELECT {AGENT_COLUMNS} FROM {source} WHERE {' AND '.join(clauses)}"
        f" ORDER BY {order} LIMIT ?",
        (*params, limit),
    )
    return [agent_from_row(row) for row in rows]


async def contacts(pool: ReadPool, agent_id: int, after_id: int, limit: int) -> list[ContactLink]:
    """The agent's links in both directions, in id (creation) order after ``after_id``."""
    rows = await pool.fetchall(
        f"SELECT * FROM (SELECT {LINK_COLUMNS} FROM {LINK_FROM}"
        " WHERE c.from_agent = ? AND c.id > ? ORDER BY c.id LIMIT ?)"
        f" UNION ALL SELECT * FROM (SELECT {LINK_COLUMNS} FROM {LINK_FROM}"
        " WHERE c.to_agent = ? AND c.id > ? ORDER BY c.id LIMIT ?)"
        " ORDER BY 1 LIMIT ?",
        (agent_id, after_id, limit, agent_id, after_id, limit, limit),
    )
    return [link_from_row(row) for row in rows]


async def contact_link(pool: ReadPool, from_id: int, to_id: int) -> ContactLink | None:
    """The link from one agent to another, if any."""
    row = await pool.fetchone(
        f"SELECT {LINK_COLUMNS} FROM {LINK_FROM} WHERE c.from_agent = ? AND c.to_agent = ?",
        (from_id, to_id),
    )
    return None if row is None else link_from_row(row)
