"""The PostgreSQL backend (``--database-url``): the scale-out twin of the embedded SQLite one,
behind the same ports (see :mod:`.backend` and, for the position design, :mod:`.schema`)."""

from agentmail_server.storage.postgres.backend import PostgresStorage

__all__ = ["PostgresStorage"]
