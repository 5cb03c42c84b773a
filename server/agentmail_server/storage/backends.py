"""Opening the storage backend a configuration names (today: the embedded SQLite)."""

from __future__ import annotations

from agentmail_server.config import ServerConfig
from agentmail_server.storage.sqlite import SqliteStorage


async def open_storage(config: ServerConfig) -> SqliteStorage:
    """Open (create or migrate) the backend for ``config`` and start its writer and readers.

    On failure nothing is left open.
    """
    storage = SqliteStorage(
        config.database_path,
        synchronous=config.sqlite_synchronous,
        queue_size=config.writer_queue_size,
        max_batch=config.writer_max_batch,
        read_pool_size=config.read_pool_size,
        index_idle_seconds=config.search_index_idle_seconds,
    )
    try:
        await storage.start()
    except BaseException:
        await storage.close()
        raise
    return storage
