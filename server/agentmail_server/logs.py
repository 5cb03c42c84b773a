"""Logging set-up for the server process: records go through a bounded queue to a thread.

Writing a log line is blocking I/O (stderr may be a full pipe), so the event loop only puts
records on a queue; a listener thread formats and writes them. The queue is bounded: when it is
full, new records are dropped and counted, and the count is reported once the queue drains,
rather than letting a slow log consumer stall request handling.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys

QUEUE_CAPACITY = 10_000
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Libraries whose DEBUG output is kept out even at --log-level DEBUG: aiosqlite logs every
# statement with its parameters (message bodies, token hashes), gRPC its polling internals.
# --log-level DEBUG is for our own detail (one line per call); their INFO and above still show.
QUIET_LIBRARIES = ("aiosqlite", "grpc")


class DroppingQueueHandler(logging.handlers.QueueHandler):
    """A QueueHandler that drops (and counts) records when its bounded queue is full."""

    def __init__(self, records: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(records)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        """Queue the record without blocking; drop it when the queue is full."""
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class _ReportDrops(logging.Filter):
    """Runs on the listener thread: notes how many records were dropped since the last one."""

    def __init__(self, source: DroppingQueueHandler) -> None:
        super().__init__()
        self._source = source
        self._reported = 0

    def filter(self, record: logging.LogRecord) -> bool:
        dropped = self._source.dropped
        if dropped > self._reported:
            record.msg = (
                f"{record.msg} [{dropped - self._reported} log records dropped before this]"
            )
            self._reported = dropped
        return True


def configure_logging(level: str) -> logging.handlers.QueueListener:
    """Route the root logger through a bounded queue to stderr; returns the started listener
    (stop it at exit to flush what is queued).

    Args:
        level: the root level (``DEBUG`` adds one line per call; see :data:`QUIET_LIBRARIES`).
    """
    records: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_CAPACITY)
    handler = DroppingQueueHandler(records)
    output = logging.StreamHandler(sys.stderr)
    output.setFormatter(logging.Formatter(FORMAT))
    output.addFilter(_ReportDrops(handler))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(root.level, logging.INFO))
    listener = logging.handlers.QueueListener(records, output, respect_handler_level=False)
    listener.start()
    return listener
