"""Putting the session's PostgreSQL database back to the state of a freshly migrated schema,
between the tests of the backend matrix, without migrating again.

Why: emptying the schema and letting each test's server migrate it took about half a second of
every ``[postgres]`` test (dropping and re-creating every table, index and function), more
than its server start and its calls together. Here the schema is migrated once per session and
its pristine contents (the rows and sequence values the migrations leave behind) are recorded;
each later test gets the same tables emptied and those contents put back, in one transaction.

The reset is exact for data and refuses to paper over anything else: when the schema itself
differs from the one recorded (a test altered a table, say), it returns False and the caller
empties the schema instead, so that the next server migrates it as on a first start. The
migration from an empty schema stays covered by tests/postgres, whose servers always start on
an empty schema.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import psycopg

# Everything that makes up the schema (columns, indexes, constraints, triggers, functions),
# as one digest: a reset applies only to the very schema that was recorded.
SHAPE = """
SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), ''))
FROM (
    SELECT format('column %s.%s %s %s %s', c.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    SELECT format('function %s %s', proname, md5(prosrc))
    FROM pg_proc WHERE pronamespace = 'public'::regnamespace
) AS shape(item)
"""
TABLES = "SELECT format('%I', tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
SEQUENCES = """
SELECT format('%I', sequencename), coalesce(last_value, start_value), last_value IS NOT NULL
FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1
"""
# A reset waits this long for a table lock (a connection of the last test's server that has not
# gone yet), then fails the test instead of hanging it.
LOCK_TIMEOUT = "10s"


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A freshly migrated schema: its shape digest, tables, rows (COPY text) and sequences."""

    shape: str
    tables: tuple[str, ...]
    rows: dict[str, bytes]
    sequences: tuple[tuple[str, int, bool], ...]


def migrate(url: str) -> None:
    """Migrate the database at ``url`` with the server's own migrations.

    They are asynchronous and the caller is a synchronous fixture that may run while the test's
    event loop exists: they run on a loop of their own, in a thread of their own.
    """
    from agentmail_server.storage.postgres import connection, schema  # noqa: PLC0415

    async def run() -> None:
        conn = await connection.connect(url)
        try:
            await schema.migrate(conn)
        finally:
            await conn.close()

    failure: list[BaseException] = []

    def body() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=body, name="pg-baseline-migrate")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def record(url: str) -> Baseline:
    """The pristine contents of the (just migrated) database at ``url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        shape = _shape(conn)
        tables = tuple(str(row[0]) for row in conn.execute(TABLES))
        rows: dict[str, bytes] = {}
        for table in tables:
            with conn.cursor().copy(f"COPY {table} TO STDOUT".encode()) as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            if data:
                rows[table] = data
        sequences = tuple(
            (str(name), int(value), bool(called)) for name, value, called in conn.execute(SEQUENCES)
        )
    return Baseline(shape, tables, rows, sequences)


def restore(url: str, baseline: Baseline) -> bool:
    """Put the database at ``url`` back to ``baseline``; False (nothing changed) when its schema
    is no longer the recorded one, or when the test role may not skip triggers (replica mode
    needs a superuser, as the user postgres CI uses is)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if _shape(conn) != baseline.shape:
            return False
        try:
            _put_back(conn, baseline)
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True


def _put_back(conn: psycopg.Connection[tuple[object, ...]], baseline: Baseline) -> None:
    """Empty every table and put the recorded rows and sequence values back, in one transaction."""
    with conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'".encode())
        # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE gives every table and
        # index a new file (as slow as migrating). Replica mode skips the foreign-key and other
        # triggers, so the order of the tables does not matter.
        conn.execute("SET LOCAL session_replication_role = replica")
        for table in baseline.tables:
            conn.execute(f"DELETE FROM {table}".encode())
        for table, data in baseline.rows.items():
            with conn.cursor().copy(f"COPY {table} FROM STDIN".encode()) as copy:
                copy.write(data)
        for name, value, called in baseline.sequences:
            conn.execute("SELECT setval(%s, %s, %s)", (name, value, called))


def _shape(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute(SHAPE.encode()).fetchone()
    assert row is not None
    return str(row[0])
