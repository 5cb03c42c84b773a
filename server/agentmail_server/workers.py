"""``--workers N``: N serving processes on one port, for the PostgreSQL backend.

Why processes: one Python process tops out at grpc.aio's per-call cost on one core; N
processes over one shared database use N cores. Each worker is a whole ``agentmail-server``
(its own event loop, pools, writer and LISTEN connection: cross-process push keeps their
subscribers in step) bound to the same port with SO_REUSEPORT, so the kernel spreads incoming
connections among them. A connection stays with the worker that accepted it.

The supervisor (this module) does no serving and runs no event loop. It holds the data folder's
lock for the whole set and creates the data folder's cursor key before any worker starts (the
key the first server on a database stores there; every worker then seals cursors with the
database's key, see ``storage.postgres.shared_key``; the workers take no lock). It resolves the
port first (port 0 picks one free port, held open with SO_REUSEPORT until the workers stop, so
all workers share that one), starts the workers as ``python -m agentmail_server`` with the same
arguments plus that address, forwards SIGTERM and SIGINT to them (each drains gracefully), and
waits. If a worker dies on its own the supervisor stops the others and exits with status 1, so
whatever runs it (systemd, a container) restarts the whole set: a half-dead set would keep
accepting connections on a port whose share of them nobody serves well.

A worker knows it is one by ``AGENTMAIL_WORKER_INDEX`` (0 .. N-1), which also moves its metrics
port to ``--metrics-listen``'s port + index (port 0: each picks its own).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from agentmail_server import cursor_key
from agentmail_server.config import ServerConfig
from agentmail_server.datalock import DataFolderLock

logger = logging.getLogger(__name__)

WORKER_ENV = "AGENTMAIL_WORKER_INDEX"


def worker_index() -> int | None:
    """This process's index among ``--workers``, or None for a supervisor or lone server."""
    raw = os.environ.get(WORKER_ENV)
    return int(raw) if raw is not None and raw.isdigit() else None


def worker_config(config: ServerConfig, index: int) -> ServerConfig:
    """The settings of worker ``index``: its own metrics port (the base port + index)."""
    if not config.metrics_enabled:
        return config
    host, _, port = config.metrics_listen.rpartition(":")
    if int(port) == 0:
        return config
    return dataclasses.replace(config, metrics_listen=f"{host}:{int(port) + index}")


def _reserve_port(listen: str) -> tuple[str, socket.socket | None]:
    """``listen`` with a concrete port; for port 0, a free one held by the returned socket
    (bound with SO_REUSEPORT, never listening) until the workers are gone."""
    host, _, port = listen.rpartition(":")
    if int(port) != 0:
        return listen, None
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((bare, 0))
    return f"{host}:{holder.getsockname()[1]}", holder


def _prepare_data_folder(config: ServerConfig) -> DataFolderLock:
    """Take the data folder for the whole set and make sure its cursor key exists, so that
    every worker seals and opens cursors with the same key (created once, not raced)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataFolderLock(config.data_dir)
    lock.acquire()
    try:
        cursor_key.load_or_create(config.data_dir, config.database_path)
    except BaseException:
        lock.release()
        raise
    return lock


def supervise(config: ServerConfig, argv: Sequence[str]) -> int:
    """Start ``config.workers`` workers with ``argv`` and wait for them; the exit status.

    Raises:
        RuntimeError: the data folder is in use or its cursor key unusable (nothing started).
    """
    lock = _prepare_data_folder(config)
    try:
        return _supervise(config, argv)
    finally:
        lock.release()


def _supervise(config: ServerConfig, argv: Sequence[str]) -> int:
    listen, holder = _reserve_port(config.listen)
    stopping = False
    workers: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(config.workers):
            env = {**os.environ, WORKER_ENV: str(index)}
            command = [sys.executable, "-m", "agentmail_server", *argv, "--listen", listen]
            workers.append(subprocess.Popen(command, env=env))
        logger.info("agentmail supervising %d workers on %s", config.workers, listen)
        failed = False
        remaining = {worker.pid: worker for worker in workers}
        while remaining:
            pid, status = os.waitpid(-1, 0)
            worker = remaining.pop(pid, None)
            if worker is None:
                continue
            worker.returncode = os.waitstatus_to_exitcode(status)
            if not stopping:
                logger.error(
                    "worker %d exited with status %d; stopping the others",
                    workers.index(worker),
                    worker.returncode,
                )
                failed = True
                forward(signal.SIGTERM, None)
        return 1 if failed else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if holder is not None:
            holder.close()
