"""The bounded logging queue drops instead of blocking, and says how much it dropped."""

from __future__ import annotations

import logging
import queue

from agentmail_server.logs import DroppingQueueHandler


def test_full_queue_drops_and_counts() -> None:
    records: queue.Queue[logging.LogRecord] = queue.Queue(2)
    handler = DroppingQueueHandler(records)
    logger = logging.getLogger("test_logs.dropping")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for index in range(5):
            logger.warning("line %d", index)
    finally:
        logger.removeHandler(handler)
    assert records.qsize() == 2
    assert handler.dropped == 3
    assert [records.get_nowait().getMessage() for _ in range(2)] == ["line 0", "line 1"]
