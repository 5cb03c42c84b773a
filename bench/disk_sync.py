"""A disk ceiling for durable sends: one small append and ``fdatasync`` in the data folder.

Why: a durable send waits for one fsync of SQLite's write-ahead log, and on a virtual machine
that sync alone can cost as much as a whole empty RPC. The sequential-send goal (p50 at most 2x
the empty RPC's) then has a floor this run can show: the empty RPC plus this sync. The appends
are 4 KiB (a WAL frame of one page), one after another into one file on the data folder's
file system, with a 1 ms pause between them because a sequential sender leaves the disk idle
for about a round trip between commits (back-to-back syncs measure faster on this kind of VM).
The figure is reported beside the send rows, never asserted.
"""

from __future__ import annotations

import os
import pathlib
import time

from bench.core import Measurement, Run
from bench.hdr import Histogram

PAGE = 4096
PAUSE_SECONDS = 0.001


def fsync_ceiling(run: Run, folder: pathlib.Path, key: str, scenario: str, count: int) -> None:
    """Record ``count`` append-and-fdatasync latencies in ``folder`` as measurement ``key``."""
    path = folder / "bench-fsync.tmp"
    hist = Histogram()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        page = os.urandom(PAGE)
        started = time.perf_counter()
        for n in range(count):
            os.pwrite(fd, page, n * PAGE)
            before = time.perf_counter_ns()
            os.fdatasync(fd)
            hist.record(time.perf_counter_ns() - before)
            time.sleep(PAUSE_SECONDS)
        seconds = time.perf_counter() - started
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    run.add(
        Measurement(
            key=key,
            scenario=scenario,
            name="fdatasync of a 4 KiB append in the data folder (disk ceiling, 1 ms apart)",
            value={"count": count, "seconds": round(seconds, 3), "latency_ms": hist.summary_ms()},
            hist=hist,
            note="no RPC: the disk's share of a durable send's latency",
        )
    )
