"""Fuzz fixtures: hypothesis profiles, and one real server per test module over a seeded world,
once on each storage backend (SQLite, then PostgreSQL in a database of the module's own: see
``tests/backend_matrix.py`` for when PostgreSQL tests skip or fail).

Profiles (``HYPOTHESIS_PROFILE``): ``ci`` (the default) keeps the whole folder well under a
minute; ``long`` runs many more examples per RPC for on-demand hunting, remembering failing
examples in ``.hypothesis/`` (git-ignored). ``ci`` keeps no example database, so a run never
depends on an earlier one.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import backend_matrix
import pytest
import pytest_asyncio
from conftest import open_channel, running_server
from hypothesis import HealthCheck, Phase, settings

from ._probe import PostgresSnapshots, Snapshots
from ._strategies import RequestStrategies
from ._world import World, seed

# Network calls vary with the machine's load: no per-example deadline. Examples are big (up to
# 1 MiB strings, a thousand list entries) on purpose, hence the data-size health checks. No
# "explain" phase: it traces every line run, the in-process server's included, and made
# shrinking one failure take minutes.
_COMMON: dict[str, Any] = {
    "deadline": None,
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=20, database=None, derandomize=False, **_COMMON)
settings.register_profile("long", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A subscription that is accepted sends a heartbeat at once, so the fuzzer waits on its first
# message instead of on a timer.
HEARTBEAT_SECONDS = 0.05
# The probe compares the database's change counter around each call: a background flush of
# earlier calls' last-active times would look like a change made by the failing call. The
# module's server flushes them only at shutdown (tests/contacts checks the flushing itself).
PRESENCE_FLUSH_SECONDS = 24 * 3600.0
# Likewise the search indexer: idle, it would commit between a call's two snapshots. It still
# indexes when a search asks and after large sends, both before the call returns.
INDEX_IDLE_SECONDS = 24 * 3600.0


@dataclasses.dataclass(repr=False)
class Fuzz:
    """What a fuzz test needs: a channel to the module's server, its seeded world, request
    strategies over that world and a reader of the database's change counter."""

    server: Any
    channel: Any
    world: World
    strategies: RequestStrategies
    snapshots: Snapshots | PostgresSnapshots

    def __repr__(self) -> str:
        return f"Fuzz(server at {self.server.address}, {self.world!r})"


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=backend_matrix.BACKENDS)
async def fuzz(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Fuzz]:
    """A real server on a free port over a fresh, seeded store, for one test module and one
    backend (the fixture's parameter): bad input must not reach INTERNAL on either.

    The git archive is off: it only reads the database, in its own process, and on a shared
    machine that process would cost most of the fuzz budget.
    """
    data_dir: pathlib.Path = tmp_path_factory.mktemp("fuzz") / "data"
    database: backend_matrix.SessionDatabase | None = None
    backend_settings: dict[str, Any] = {}
    if request.param == "postgres":
        backend_matrix.require_postgres()
        database = backend_matrix.SessionDatabase()
        backend_settings["database_url"] = database.fresh()
    try:
        async with (
            running_server(
                data_dir,
                archive=False,
                heartbeat_seconds=HEARTBEAT_SECONDS,
                sqlite_synchronous="normal",
                # The sweep commits on its own (expiries, warnings): never beside a probed call.
                reservation_sweep_seconds=86400,
                presence_flush_seconds=PRESENCE_FLUSH_SECONDS,
                search_index_idle_seconds=INDEX_IDLE_SECONDS,
                **backend_settings,
            ) as server,
            open_channel(server.address) as channel,
        ):
            snapshots = (
                PostgresSnapshots(database.url)
                if database is not None
                else Snapshots(server.config.database_path)
            )
            try:
                world = await seed(channel)
                yield Fuzz(server, channel, world, RequestStrategies(world), snapshots)
            finally:
                snapshots.close()
    finally:
        if database is not None:
            database.drop()
