"""The embedded SQLite backend: schema, the single writer, the read pool and the queries.

Its face is :class:`SqliteStorage`; the other modules are its parts.
"""

from agentmail_server.storage.sqlite.backend import SqliteStorage

__all__ = ["SqliteStorage"]
