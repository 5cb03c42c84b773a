"""Load-generator processes: jobs run in spawned processes that talk to the parent over a pipe.

A :class:`Pool` keeps idle load-generator processes so that each phase does not pay for
starting Python and importing gRPC again. A job (see :mod:`bench.loadgen`) runs on a fresh
event loop (uvloop when installed, like the server) and exchanges ``(tag, payload)`` tuples
with the parent: progress such as ``("warm", None)``, commands such as ``("go", None)``, and
finally ``("result", value)`` or ``("error", traceback)``. Spawn (not fork) keeps the children
free of the parent's threads and gRPC state.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

JOIN_SECONDS = 10.0


class Job(Protocol):
    """What a load-generator process runs."""

    async def run(self, ctl: Control) -> object:
        """Do the work, talking to the parent through ``ctl``; return the result."""
        ...


class WorkerError(RuntimeError):
    """The job failed in its process; the message carries its traceback."""


class Control:
    """The child's end of the pipe, usable from its event loop."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn

    def send(self, tag: str, payload: object = None) -> None:
        """Tell the parent something (pipe writes of small tuples do not block in practice)."""
        self._conn.send((tag, payload))

    async def recv(self) -> tuple[str, Any]:
        """Wait for the parent's next message without blocking the loop."""
        loop = asyncio.get_running_loop()
        while not self._conn.poll():
            ready: asyncio.Future[None] = loop.create_future()
            fd = self._conn.fileno()
            loop.add_reader(fd, _wake, ready)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
                # uvloop leaves a watched fd non-blocking; pipe writes and reads expect blocking.
                os.set_blocking(fd, True)
        tag, payload = self._conn.recv()
        return str(tag), payload

    async def expect(self, tag: str) -> Any:
        """Wait for the parent's message ``tag`` and return its payload."""
        got, payload = await self.recv()
        if got != tag:
            raise RuntimeError(f"expected {tag!r} from the parent, got {got!r}")
        return payload


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _run(job: Job, ctl: Control) -> object:
    try:
        import uvloop  # noqa: PLC0415 - optional, as in the server
    except ImportError:
        return asyncio.run(job.run(ctl))
    return uvloop.run(job.run(ctl))


def _child_main(conn: multiprocessing.connection.Connection, cpus: Sequence[int]) -> None:
    """Run jobs one after another until the parent sends None or goes away."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    ctl = Control(conn)
    with conn:
        while True:
            os.set_blocking(conn.fileno(), True)
            try:
                job = conn.recv()
            except EOFError:
                return
            if job is None:
                return
            try:
                conn.send(("result", _run(job, ctl)))
            except BaseException:
                conn.send(("error", traceback.format_exc()))


class Worker:
    """One load-generator process; runs one job at a time."""

    def __init__(self, cpus: Sequence[int] = ()) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_child_main, args=(child, tuple(cpus)))
        self._process.daemon = True
        self._process.start()
        child.close()
        self.pid = self._process.pid
        self.finished = True  # no job running

    def start(self, job: Job) -> None:
        """Hand the process a job."""
        self.finished = False
        self._conn.send(job)

    def send(self, tag: str, payload: object = None) -> None:
        """Send the running job a command."""
        self._conn.send((tag, payload))

    def recv(self, timeout: float) -> tuple[str, Any]:
        """The job's next message.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
            WorkerError: the job failed, or the process died.
        """
        if not self._conn.poll(timeout):
            raise TimeoutError(f"load generator {self.pid} said nothing for {timeout:.0f} s")
        try:
            tag, payload = self._conn.recv()
        except EOFError:
            raise WorkerError(f"load generator {self.pid} exited without a result") from None
        if tag == "error":
            self.finished = True
            raise WorkerError(f"load generator {self.pid} failed:\n{payload}")
        if tag == "result":
            self.finished = True
        return str(tag), payload

    def expect(self, tag: str, timeout: float) -> Any:
        """Wait for the job's message ``tag`` and return its payload."""
        got, payload = self.recv(timeout)
        if got != tag:
            raise WorkerError(f"expected {tag!r} from load generator {self.pid}, got {got!r}")
        return payload

    def result(self, timeout: float) -> Any:
        """Wait for the job's result (skipping progress messages)."""
        while True:
            tag, payload = self.recv(timeout)
            if tag == "result":
                return payload

    def close(self, kill: bool = False) -> None:
        """End the process: politely when idle, else (or with ``kill``) by its PID."""
        if self._process.is_alive() and self.finished and not kill:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._process.join(JOIN_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(JOIN_SECONDS)
        self._conn.close()


class Pool:
    """Idle load-generator processes, reused from phase to phase."""

    def __init__(self, cpus: Sequence[int] = ()) -> None:
        self._cpus = tuple(cpus)
        self._idle: list[Worker] = []

    @contextlib.contextmanager
    def job(self, job: Job) -> Iterator[Worker]:
        """Run ``job`` on an idle process (or a new one) for the duration of the block.

        The process goes back to the pool only if the block read the job's result; otherwise
        (an error, or a result left unread) it is killed.
        """
        worker = self._idle.pop() if self._idle else Worker(self._cpus)
        worker.start(job)
        clean = False
        try:
            yield worker
            clean = True
        finally:
            if clean and worker.finished:
                self._idle.append(worker)
            else:
                worker.close(kill=True)

    def close(self) -> None:
        """End every idle process."""
        while self._idle:
            self._idle.pop().close()
