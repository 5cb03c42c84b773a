"""The cursor key of a PostgreSQL deployment, kept in the database so every server shares it.

Why in the database: cursors and page tokens are sealed with the cursor key, and a client that
saved one on a server must be able to resume on any other server of the same database, on this
host (``--workers``) or on another. A key file per data folder would need copying by hand to
every host, and a host that missed it would refuse every cursor made elsewhere.

The first server to start on a database stores the key it read from its own data folder (an
existing deployment thereby keeps the key its saved cursors were sealed with); every later
start, on any host, adopts the stored key. The insert is ``ON CONFLICT DO NOTHING`` followed
by a read in the same transaction, so servers starting at once agree on one key. Anyone who can
read the database can read the key, as they can read the mail it protects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentmail_server.storage.postgres.connection import Conn

_STORE = (
    "INSERT INTO cursor_key (key, created_at) VALUES (%s, %s) ON CONFLICT (singleton) DO NOTHING"
)
_READ = "SELECT key FROM cursor_key"


def adopt(local: bytes, now: int) -> Callable[[Conn], Awaitable[bytes]]:
    """The writer operation that stores ``local`` unless a key is stored already, and returns
    the stored key."""

    async def operation(conn: Conn) -> bytes:
        await conn.execute(_STORE, (local, now))
        cursor = await conn.execute(_READ)
        row = await cursor.fetchone()
        assert row is not None  # stored just now or before, in this transaction's view
        return bytes(row[0])

    return operation
