"""Loading an mcp_agent_mail database into an agentmail data folder (the import's core).

**Offline, on a stopped server's data folder.** The import takes the data folder's lock (so
a running server is refused, as ``restore`` and ``retention`` refuse it) and writes with the
storage layer's own functions (``storage.sqlite.writes``) on a writer connection, in large
transactions. Through a running server it could not keep what makes the history worth
importing: the API stamps every send with the time of the call, cannot set another agent's
read and acknowledgement times, and authenticates each agent by a token nobody has yet.
Writing through the storage functions keeps every invariant they keep (ids in commit order,
deliveries, the search index, contact exchanges, revisions the archive follows); a server
started afterwards archives the imported mail like any other, since its archive worker reads
the database after its last archived position.

**Idempotent.** Each imported message carries a marker in ``idempotency_keys`` (no schema
change): the key :data:`MARKER` + source id + source creation time, under its sender. Every
marker starts with a control character, which no client key may hold (the API refuses them),
so no send can take a marker over, and the markers live as long as their message (retention
removes both together). A second run finds every marker and adds nothing; an interrupted run
resumes where it stopped. Projects are found by human key, agents by name, reservations by
holder and pattern, contact links by their pair.

**Tokens are not imported.** Each new agent gets a fresh random token: with ``tokens_file``
they are written there (0600) for the operator to hand out; otherwise they are thrown away and
an operator issues one per agent with ``RevokeTokens(issue_new_token=true)``.

**Mapping** (names, text, levels): see :mod:`.mcp_mapping`. Imported mail takes ids after the
data folder's newest, in the source's id order, with its original creation time.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable, Sequence

from agentmail_server.admin import mcp_coordination as coordination
from agentmail_server.admin import mcp_mapping as mapping
from agentmail_server.admin.mcp_records import KINDS, Mapped, Report, Tally
from agentmail_server.admin.mcp_source import Source, SourceAgent, SourceMessage
from agentmail_server.domain import limits, names
from agentmail_server.domain.drafts import Draft, Registration
from agentmail_server.domain.models import Importance, Recipient
from agentmail_server.errors import AgentmailError
from agentmail_server.services.auth import hash_token, new_token
from agentmail_server.storage.sqlite import bulk_writes, policy, writes

# Starts every import marker; U+001F cannot be in a client's idempotency key.
MARKER = "\x1fmcp-agent-mail\x1f"
_MARKER_END = MARKER[:-1] + chr(ord(MARKER[-1]) + 1)
MAX_BODY_BYTES = limits.MAX_BODY_BYTES
# (phase, done, total) after each step, for a progress bar.
Progress = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A source message ready to store: the draft, its time, its recipients' read and ack
    times (agent id -> (read, ack)) and its source id."""

    source_id: int
    draft: Draft
    created_at: int
    marks: tuple[tuple[int, int | None, int | None], ...]


def marker(message: SourceMessage) -> str:
    """The idempotency key that marks ``message`` as imported."""
    return f"{MARKER}{message.id}\x1f{message.created_at}"


def write_messages(conn: sqlite3.Connection, batch: Sequence[Prepared]) -> list[tuple[int, str]]:
    """Store ``batch`` (inside the caller's transaction); ``(message id, thread id)`` each.

    Mail goes through the bulk path SendMessages uses (``bulk_writes.insert_messages``: ids taken
    once, a savepoint per message; deliveries, marker key), with each message's own creation
    time; then its recipients' read and ack times and the contact exchange the AUTO policy
    counts, at the message's own time. The search index catches up when the server starts.
    A message the storage refuses aborts the import with its error (nothing of the open
    transaction is kept; a rerun resumes after the last committed batch).
    """
    outcomes = bulk_writes.insert_messages(
        conn, [item.draft for item in batch], 0, [item.created_at for item in batch]
    )
    stored = []
    for item, sent in zip(batch, outcomes, strict=True):
        if isinstance(sent, AgentmailError):
            raise sent
        message_id = sent.message.id
        if item.marks:
            conn.executemany(
                "UPDATE deliveries SET read_at = ?, ack_at = ? WHERE agent_id = ? AND"
                " message_id = ?",
                [(read, ack, agent, message_id) for agent, read, ack in item.marks],
            )
        policy.record_exchanges(conn, item.draft.sender_id, sent.recipients, item.created_at)
        stored.append((message_id, sent.message.thread_id))
    return stored


class Importer:
    """One import of ``source`` over the writer connection ``conn`` (schema current)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        source: Source,
        now: int,
        progress: Progress | None = None,
    ) -> None:
        self.conn = conn
        self.source = source
        self.now = now
        self.progress = progress or (lambda phase, done, total: None)
        self.report = Report(source.flavour, {kind: Tally() for kind in KINDS})
        self.projects: dict[int, tuple[int, str]] = {}  # source id -> (id, slug)
        self.agents: dict[int, Mapped] = {}
        # source message id -> agentmail thread id, for replies naming their root by id.
        self.threads: dict[int, str] = {}
        self.imported: dict[int, int] = {}  # source message id -> message id (markers)
        self.batch: list[Prepared] = []  # prepared, not yet written
        self.pending: set[int] = set()  # their source ids

    def run(self) -> Report:
        """Import everything; returns the report."""
        started = time.monotonic()
        self._transaction(self._projects_and_agents)
        self._load_markers()
        self._messages()
        self._transaction(self._coordination)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _transaction(self, step: Callable[[], None]) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            step()
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _projects_and_agents(self) -> None:
        tally = self.report.tallies["projects"]
        for project in self.source.projects():
            key = project.human_key.strip()
            if (
                not key
                or len(key) > limits.MAX_HUMAN_KEY_CHARS
                or key != mapping.single_line(key, limits.MAX_HUMAN_KEY_CHARS)
            ):
                tally.skipped["human key empty, too long or not single-line"] += 1
                continue
            stored, created = writes.ensure_project(self.conn, key, project.created_at or self.now)
            self.projects[project.id] = (stored.id, stored.slug)
            if created:
                tally.imported += 1
            else:
                tally.present += 1
        self.progress("projects", tally.imported + tally.present, len(self.projects))
        claimed: dict[tuple[int, str], int] = {}
        for agent in self.source.agents():
            self._agent(agent, claimed)
        self.progress("agents", len(self.agents), len(self.agents))

    def _agent(self, agent: SourceAgent, claimed: dict[tuple[int, str], int]) -> None:
        tally = self.report.tallies["agents"]
        project = self.projects.get(agent.project_id)
        if project is None:
            tally.skipped["project not imported"] += 1
            return
        name = mapping.agent_name(agent.name)
        if name is None:
            tally.skipped["name has no usable characters"] += 1
            return
        key = (project[0], names.name_key(name))
        if key in claimed:
            tally.skipped["name collides with another agent's (names ignore case here)"] += 1
            return
        claimed[key] = agent.id
        row = self.conn.execute(
            "SELECT id, name FROM agents WHERE project_id = ? AND name_key = ?", key
        ).fetchone()
        if row is not None:
            self.agents[agent.id] = Mapped(int(row[0]), str(row[1]), project[0])
            tally.present += 1
            return
        token = new_token()
        created_at = agent.created_at or self.now
        stored, _ = writes.register_agent(
            self.conn,
            Registration(
                project_id=project[0],
                name=name,
                program=mapping.single_line(agent.program, limits.MAX_PROGRAM_CHARS),
                model=mapping.single_line(agent.model, limits.MAX_MODEL_CHARS),
                task_description=mapping.multi_line(
                    agent.task_description, limits.MAX_TASK_DESCRIPTION_CHARS
                ),
                new_token_hash=hash_token(token),
                presented_token_hash=None,
            ),
            created_at,
        )
        contact_policy = mapping.contact_policy(agent.contact_policy)
        if contact_policy is None and agent.contact_policy.strip():
            tally.adjusted["unknown contact policy: server default"] += 1
        self.conn.execute(
            "UPDATE agents SET last_active_at = ?, contact_policy = ? WHERE id = ?",
            (
                agent.last_active_at,
                None if contact_policy is None else int(contact_policy),
                stored.id,
            ),
        )
        self.agents[agent.id] = Mapped(stored.id, stored.name, project[0])
        self.report.new_agents.append((project[1], stored.name, token))
        if name != agent.name:
            tally.adjusted["renamed"] += 1
            self.report.renamed.append((project[1], agent.name, name))
        tally.imported += 1

    def _coordination(self) -> None:
        tallies = self.report.tallies
        held = self.source.reservations()
        coordination.reservations(self.conn, held, self.agents, self.now, tallies["reservations"])
        self.progress("reservations", tallies["reservations"].imported, len(held))
        links = self.source.links()
        coordination.contacts(self.conn, links, self.agents, self.now, tallies["contacts"])
        self.progress("contacts", tallies["contacts"].imported, len(links))

    def _load_markers(self) -> None:
        """Read the markers of earlier runs (one range seek per agent) and the threads of
        the messages they mark."""
        for mapped in {m.agent_id for m in self.agents.values()}:
            for key, message_id, thread_id in self.conn.execute(
                "SELECT k.key, k.message_id, m.thread_id FROM idempotency_keys k"
                " JOIN messages m ON m.id = k.message_id"
                " WHERE k.sender_id = ? AND k.key >= ? AND k.key < ?",
                (mapped, MARKER, _MARKER_END),
            ):
                source_id = int(key[len(MARKER) :].partition("\x1f")[0])
                self.imported[source_id] = int(message_id)
                self.threads[source_id] = str(thread_id)

    def _messages(self) -> None:
        total = self.source.count("messages")
        done = 0
        self.progress("messages", 0, total)
        for chunk in self.source.message_chunks():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for message in chunk:
                    prepared = self._prepare(message)
                    if prepared is not None:
                        self.batch.append(prepared)
                        self.pending.add(prepared.source_id)
                self._flush()
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            done += len(chunk)
            self.progress("messages", done, total)

    def _flush(self) -> None:
        """Write the messages prepared so far (in the open transaction) and note their ids
        and threads."""
        stored = write_messages(self.conn, self.batch)
        for item, (message_id, thread_id) in zip(self.batch, stored, strict=True):
            self.imported[item.source_id] = message_id
            self.threads[item.source_id] = thread_id
        self.batch.clear()
        self.pending.clear()

    def _prepare(self, message: SourceMessage) -> Prepared | None:
        """The message to store, or None (counted) when it is already there or left out."""
        tally = self.report.tallies["messages"]
        if message.id in self.imported:
            tally.present += 1
            self.report.tallies["recipients"].present += len(message.recipients)
            return None
        sender = self.agents.get(message.sender_id)
        project = self.projects.get(message.project_id)
        if project is None:
            tally.skipped["project not imported"] += 1
            return None
        if sender is None or sender.project_id != project[0]:
            tally.skipped["sender not imported"] += 1
            return None
        if message.created_at is None:
            tally.skipped["creation time unreadable"] += 1
            return None
        if len(message.body.encode()) > MAX_BODY_BYTES:
            tally.skipped[f"body over {MAX_BODY_BYTES} bytes"] += 1
            return None
        subject, cut = mapping.subject(message.subject)
        if cut:
            tally.adjusted[f"subject cut to {limits.MAX_SUBJECT_CHARS} characters"] += 1
        level = mapping.importance(message.importance)
        if level is None:
            tally.adjusted["unknown importance: normal"] += 1
            level = Importance.NORMAL
        if message.attachments:
            tally.adjusted["attachments not imported"] += 1
        recipients, marks = self._recipients(message, sender, project[0])
        tally.imported += 1
        return Prepared(
            source_id=message.id,
            draft=Draft(
                project_id=project[0],
                sender_id=sender.agent_id,
                sender_name=sender.name,
                recipients=recipients,
                subject=subject,
                body=message.body,
                importance=level,
                ack_required=message.ack_required,
                thread_id=self._thread(message),
                topic="",
                idempotency_key=marker(message),
                idempotency_digest="import",
            ),
            created_at=message.created_at,
            marks=marks,
        )

    def _recipients(
        self, message: SourceMessage, sender: Mapped, project_id: int
    ) -> tuple[tuple[Recipient, ...], tuple[tuple[int, int | None, int | None], ...]]:
        tally = self.report.tallies["recipients"]
        recipients: list[Recipient] = []
        marks: list[tuple[int, int | None, int | None]] = []
        for row in message.recipients:
            kind = mapping.recipient_kind(row.kind)
            agent = self.agents.get(row.agent_id)
            if kind is None:
                tally.skipped[f"unknown kind {row.kind[:16]!r}"] += 1
            elif agent is None:
                tally.skipped["recipient not imported"] += 1
            elif agent.project_id != project_id:
                tally.skipped["recipient in another project"] += 1
            else:
                recipients.append(Recipient(agent.agent_id, agent.name, kind))
                # An acknowledgement implies a read here (AcknowledgeMessage sets both).
                read_at = row.read_at if row.read_at is not None else row.ack_at
                if read_at is not None or row.ack_at is not None:
                    marks.append((agent.agent_id, read_at, row.ack_at))
                tally.imported += 1
        if not recipients:
            self.report.tallies["messages"].adjusted["no recipient left (sender's copy only)"] += 1
        return tuple(recipients), tuple(marks)

    def _thread(self, message: SourceMessage) -> str:
        """The message's agentmail thread: "" (its own id) for a root; a reply naming its
        root by source id (as the source's replies do) joins that root's thread here; other
        thread ids are kept."""
        raw = mapping.single_line(message.thread_id.strip(), limits.MAX_THREAD_ID_CHARS)
        if not raw or raw == str(message.id):
            return ""
        numeric = raw.isascii() and raw.isdigit()
        if numeric and int(raw) in self.pending:
            self._flush()  # its root waits in this batch: written first, to know its thread
        if numeric:
            # A root skipped here, or a number that is not one: kept apart from the threads
            # named by agentmail's own message ids.
            return self.threads.get(int(raw), f"mcp-{raw}")
        return raw
