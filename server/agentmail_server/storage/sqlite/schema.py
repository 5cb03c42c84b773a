"""Schema and migrations, applied once at start-up and never checked on a request path.

Design notes (why the tables look like this):

- ``deliveries`` is the inbox: one row per (recipient, message), clustered on that key
  (``WITHOUT ROWID``), carrying everything an inbox page filters on (kind, importance, topic,
  read/ack state). Paging an inbox is an index seek on it; envelopes are then fetched by
  primary key for the page only.
- Message ids are assigned by the single writer in commit order, which makes "every id after
  my cursor" gap-free for readers.
- Recipient names are stored denormalised on the message (names never change), so rendering a
  message never joins the agents table.
- ``body`` is the last column of ``messages``: SQLite reads columns in order, so envelope-only
  reads never walk a large body's overflow pages.
- Times are integer microseconds since the epoch (UTC).
- ``messages_fts`` (version 2) is an external-content FTS5 index over subject and body, filled
  by a trigger inside the same transaction as the message insert until version 11 (which
  indexes asynchronously, see below). Messages are never updated; retention
  deletes them (version 4), and a delete trigger takes them out of the index in the same
  transaction. Tokenizer: unicode61 with diacritics folded; punctuation
  separates tokens, and the query parser turns words such as ``POL-358`` into phrases.
- ``agents.revision`` (version 3) is a server-wide sequence number the single writer sets on
  every registration and profile change (``max + 1``, so it grows in commit order, like message
  ids). The git archive follows agent changes by it as it follows messages by id.
- ``sequences`` (version 4) keeps the highest message id ever assigned once retention has
  purged messages: ids are ``max(id) + 1``, which would hand out a purged newest id again and
  break every cursor past it. The purge records the high-water mark in the same transaction;
  ``idempotency_keys_by_message`` lets it find the keys of the messages it removes by seek.
- ``idempotency_keys.digest`` (version 5) is a SHA-256 of the content a key was first used
  with, so that reusing a key for different content fails instead of returning the first
  message. Keys stored before version 5 have no digest (NULL) and keep the old rule (any
  repeat within the window returns the original) until they expire, at most 24 hours later.
- ``notices`` (version 6) are coordination events for one agent (an acknowledgement of its mail,
  a contact request, a change to its reservations). Their ``position`` comes from the message id
  sequence (ids are the max over messages, notices and ``sequences``, plus one), so an agent's
  inbox stream is one commit-ordered sequence of mail and notices that one cursor covers. The
  detail is a tagged JSON object (``domain.notices``): new fields need no migration.
- Version 8 (7 belongs to the reservations branch; empty here until it merges) adds presence,
  lifecycle and contact policies. ``agents.contact_policy`` is NULL until the agent sets one:
  such agents follow the server's ``default_contact_policy``. ``last_active_at`` is written in
  batches by the presence flusher (never per call) and is NULL until the first flush (readers
  fall back to ``created_at``). ``agent_capabilities`` repeats each agent's capabilities, keyed
  for the ListAgents filter, so that filter is an index seek. ``contacts`` holds directed links
  (requester -> target), one per pair. ``contact_exchanges`` keeps, per unordered pair of
  agents, when mail last passed between them: the AUTO policy's "exchanged mail within the
  window" is then one primary-key seek per recipient instead of a scan of the sender's mail.
  Each send upserts it for its (sender, recipient) pairs in the same transaction; version 8
  fills it from the mail already stored.
- ``deliveries.ack_required``, ``sender_id`` and ``created_at`` (version 9) copy the message's
  flag, sender and commit time onto each delivery (messages are never updated, so the copies
  never go stale), so that acknowledgement tracking is an index seek on each side: a
  recipient's unacknowledged mail by ``deliveries_unacknowledged`` (its agent, then id), a
  sender's messages still awaiting an acknowledgement by ``deliveries_pending_acks`` (the
  sender, then commit time and id, so "overdue" is a range). Both are partial indexes over
  the rows still waiting (``ack_required = 1 AND ack_at IS NULL``): an acknowledgement takes
  its row out of both, and every other delivery costs them nothing. Queries must repeat that
  condition word for word for SQLite to use them.
- ``reservations`` (version 7) are file reservations. Active means ``released_at IS NULL AND
  expires_at > now``: the partial index ``reservations_active`` on (project, expiry) serves
  every conflict check (one seek per request loads the project's active reservations), and
  ``reservations_unreleased_by_expiry`` serves the background sweep that records expired ones
  as released. ``revision`` is a server-wide sequence set on every change (``max + 1``, as for
  agents), which the git archive follows. ``reservation_keys`` holds ReservePaths'
  idempotency keys with the first call's result (JSON), so a repeat returns it unchanged.
  ``pattern_group`` is the pattern's literal first folder (a resource's name; "" when the
  pattern starts with a glob or has no slash): patterns of two different non-empty groups
  never overlap, so ReservePaths reads only its patterns' groups and "" through
  ``reservations_active_by_group``.
- ``agent_tokens`` (version 10) holds every token hash an agent may authenticate with: one
  normally, two during a rotation's overlap (the old one with an ``expires_at``), none after
  an operator's revocation. Authentication is a seek on its unique ``token_hash``; rotation
  and revocation go through ``agent_tokens_agent``. Version 10 copies each
  ``agents.token_hash`` into it; that column stays (SQLite cannot drop a UNIQUE column) with
  the hash of the token the agent registered with, and nothing authenticates by it any more.
- Version 11 drops the insert trigger of ``messages_fts``: a trigger writes one small FTS5
  segment per commit (45-110 us a message under load, against 2.5-6 us a message indexed in
  bulk). The writer's indexer (:mod:`.indexer`) indexes ``id > last_indexed`` in its own larger
  transactions instead, and the ``sequences`` row ``fts_indexed`` holds ``last_indexed``,
  committed with the index rows it covers, so after a crash indexing resumes exactly where
  it stopped (each message indexed once). The delete trigger now fires only for indexed
  rows (``old.id <= last_indexed``): retention may purge a message before the indexer reaches
  it, and telling FTS5 to delete a row it never indexed would corrupt the index.
- ``messages_fts_terms`` (version 12) is an ``fts5vocab`` table over ``messages_fts``: the
  index's own terms, stored nowhere else. A search reads it to stand a prefix for the words it
  covers (:mod:`.prefix_terms`).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 12

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        human_key TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE agents (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        program TEXT NOT NULL,
        model TEXT NOT NULL,
        task_description TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (project_id, name_key)
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        sender_id INTEGER NOT NULL REFERENCES agents(id),
        sender_name TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        importance INTEGER NOT NULL,
        ack_required INTEGER NOT NULL,
        topic TEXT NOT NULL,
        to_names TEXT NOT NULL,
        cc_names TEXT NOT NULL,
        bcc_names TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        body_size INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX messages_by_thread ON messages (project_id, thread_id, id);
    CREATE INDEX messages_by_sender ON messages (sender_id, id);
    CREATE TABLE deliveries (
        agent_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        importance INTEGER NOT NULL,
        topic TEXT NOT NULL,
        read_at INTEGER,
        ack_at INTEGER,
        PRIMARY KEY (agent_id, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_unread ON deliveries (agent_id, message_id) WHERE read_at IS NULL;
    CREATE INDEX deliveries_urgent ON deliveries (agent_id, message_id) WHERE importance >= 3;
    CREATE INDEX deliveries_by_topic ON deliveries (agent_id, topic, message_id) WHERE topic <> '';
    CREATE TABLE idempotency_keys (
        sender_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (sender_id, key)
    ) WITHOUT ROWID;
    """,
    2: """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        subject, body, content='messages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, subject, body) VALUES (new.id, new.subject, new.body);
    END;
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    """,
    3: """
    ALTER TABLE agents ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    UPDATE agents SET revision = id;
    CREATE UNIQUE INDEX agents_by_revision ON agents (revision);
    """,
    4: """
    CREATE TABLE sequences (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_keys_by_message ON idempotency_keys (message_id);
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, subject, body)
        VALUES ('delete', old.id, old.subject, old.body);
    END;
    """,
    5: """
    ALTER TABLE idempotency_keys ADD COLUMN digest TEXT;
    """,
    6: """
    CREATE TABLE notices (
        agent_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (agent_id, position)
    ) WITHOUT ROWID;
    CREATE INDEX notices_by_position ON notices (position);
    """,
    7: """
    CREATE TABLE reservations (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id),
        agent_id INTEGER NOT NULL REFERENCES agents(id),
        pattern TEXT NOT NULL,
        exclusive INTEGER NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        released_at INTEGER,
        released_by TEXT NOT NULL DEFAULT '',
        release_reason TEXT NOT NULL DEFAULT '',
        expiry_warned INTEGER NOT NULL DEFAULT 0,
        revision INTEGER NOT NULL,
        pattern_group TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX reservations_active ON reservations (project_id, expires_at)
        WHERE released_at IS NULL;
    CREATE INDEX reservations_active_by_group ON reservations (project_id, pattern_group)
        WHERE released_at IS NULL;
    CREATE INDEX reservations_unreleased_by_expiry ON reservations (expires_at)
        WHERE released_at IS NULL;
    CREATE INDEX reservations_by_holder ON reservations (agent_id, pattern)
        WHERE released_at IS NULL;
    CREATE INDEX reservations_by_project ON reservations (project_id, id);
    CREATE INDEX reservations_by_activity ON reservations (agent_id, updated_at);
    CREATE UNIQUE INDEX reservations_by_revision ON reservations (revision);
    CREATE TABLE reservation_keys (
        agent_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        digest TEXT NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (agent_id, key)
    ) WITHOUT ROWID;
    """,
    8: """
    ALTER TABLE agents ADD COLUMN status TEXT NOT NULL DEFAULT '';
    ALTER TABLE agents ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';
    ALTER TABLE agents ADD COLUMN last_active_at INTEGER;
    ALTER TABLE agents ADD COLUMN retired_at INTEGER;
    ALTER TABLE agents ADD COLUMN contact_policy INTEGER;
    CREATE TABLE agent_capabilities (
        project_id INTEGER NOT NULL,
        capability_key TEXT NOT NULL,
        agent_id INTEGER NOT NULL,
        PRIMARY KEY (project_id, capability_key, agent_id)
    ) WITHOUT ROWID;
    CREATE INDEX agent_capabilities_by_agent ON agent_capabilities (agent_id);
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL,
        from_agent INTEGER NOT NULL,
        to_agent INTEGER NOT NULL,
        state INTEGER NOT NULL,
        reason TEXT NOT NULL,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (project_id, from_agent, to_agent)
    );
    CREATE INDEX contacts_by_target ON contacts (to_agent, id);
    CREATE INDEX contacts_by_requester ON contacts (from_agent, id);
    CREATE TABLE contact_exchanges (
        agent_low INTEGER NOT NULL,
        agent_high INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        PRIMARY KEY (agent_low, agent_high)
    ) WITHOUT ROWID;
    CREATE INDEX contact_exchanges_by_high ON contact_exchanges (agent_high, agent_low);
    INSERT INTO contact_exchanges (agent_low, agent_high, last_at)
        SELECT min(m.sender_id, d.agent_id), max(m.sender_id, d.agent_id), max(m.created_at)
        FROM messages m JOIN deliveries d ON d.message_id = m.id
        WHERE d.agent_id <> m.sender_id
        GROUP BY 1, 2;
    """,
    9: """
    ALTER TABLE deliveries ADD COLUMN ack_required INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN sender_id INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
    UPDATE deliveries SET ack_required = m.ack_required, sender_id = m.sender_id,
        created_at = m.created_at FROM messages m WHERE m.id = deliveries.message_id;
    CREATE INDEX deliveries_unacknowledged ON deliveries (agent_id, message_id)
        WHERE ack_required = 1 AND ack_at IS NULL;
    CREATE INDEX deliveries_pending_acks ON deliveries (sender_id, created_at, message_id)
        WHERE ack_required = 1 AND ack_at IS NULL;
    """,
    # Tokens leave agents.token_hash for their own table, so an agent can hold two at once
    # (rotation with an overlap) and lose all at once (revocation). agents.token_hash stays
    # (SQLite cannot drop a UNIQUE column) holding the hash of the token the agent registered
    # with; nothing authenticates by it any more.
    10: """
    CREATE TABLE agent_tokens (
        id INTEGER PRIMARY KEY,
        agent_id INTEGER NOT NULL REFERENCES agents(id),
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER
    );
    CREATE INDEX agent_tokens_agent ON agent_tokens (agent_id);
    INSERT INTO agent_tokens (agent_id, token_hash, created_at, expires_at)
        SELECT id, token_hash, created_at, NULL FROM agents;
    """,
    # The asynchronous indexer (see the design note): everything stored so far was indexed by
    # the old trigger, so indexing resumes after the newest message.
    11: """
    DROP TRIGGER messages_fts_insert;
    DROP TRIGGER messages_fts_delete;
    INSERT INTO sequences (name, value)
        SELECT 'fts_indexed', coalesce(max(id), 0) FROM messages WHERE true
        ON CONFLICT (name) DO UPDATE SET value = excluded.value;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.id <= (SELECT value FROM sequences WHERE name = 'fts_indexed') BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, subject, body)
        VALUES ('delete', old.id, old.subject, old.body);
    END;
    """,
    # The index's terms, read by searches to stand a prefix for the words it covers (see
    # storage.sqlite.prefix_terms). A virtual table over the index: it stores nothing.
    12: """
    CREATE VIRTUAL TABLE messages_fts_terms USING fts5vocab(messages_fts, row);
    """,
}


def pending_ack(alias: str) -> str:
    """The condition of the two partial indexes of version 9 on ``deliveries`` (as ``alias``),
    which a query must repeat word for word for SQLite to use them."""
    return f"{alias}.ack_required = 1 AND {alias}.ack_at IS NULL"


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database to ``target`` (by default :data:`SCHEMA_VERSION`); returns the
    version found before. Tests pass an older ``target`` to build a database as an earlier
    server left it.

    Raises:
        RuntimeError: the database was written by a newer server.
    """
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {found} is newer than this server's {SCHEMA_VERSION}"
        )
    for version in range(found + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split(_MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _split(script: str) -> list[str]:
    """Statements of a script; a trigger body's inner ';' does not end its statement."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    return statements
