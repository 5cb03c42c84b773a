"""Opening the storage backend a configuration names: the embedded SQLite database in the data
folder, or the PostgreSQL database of ``database_url`` when it is set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentmail_server.config import ServerConfig
from agentmail_server.storage.ports import Storage
from agentmail_server.storage.sqlite import SqliteStorage

if TYPE_CHECKING:
    from agentmail_server.storage.postgres import PostgresStorage


async def open_storage(config: ServerConfig) -> Storage:
    """Open (create or migrate) the backend for ``config`` and start its writer and readers.

    On failure nothing is left open.

    Raises:
        RuntimeError: the database cannot be opened or reached, or its schema is newer than
            this server's.
    """
    storage: SqliteStorage | PostgresStorage
    if config.uses_postgres:
        # Imported here: a server on SQLite never loads the PostgreSQL driver.
        from agentmail_server.storage.postgres import PostgresStorage  # noqa: PLC0415

        storage = PostgresStorage(
            config.database_url,
            queue_size=config.writer_queue_size,
            max_batch=config.writer_max_batch,
            read_pool_size=config.read_pool_size,
        )
    else:
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
