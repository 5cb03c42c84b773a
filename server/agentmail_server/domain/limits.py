"""Request limits and page-size rules."""

from __future__ import annotations

from agentmail_server.errors import invalid

MAX_SUBJECT_CHARS = 200
MAX_BODY_BYTES = 1024 * 1024
MAX_RECIPIENTS = 1000
MAX_THREAD_ID_CHARS = 128
MAX_TOPIC_CHARS = 64
MAX_IDEMPOTENCY_KEY_CHARS = 128
MAX_HUMAN_KEY_CHARS = 1024
MAX_PROGRAM_CHARS = 128
MAX_MODEL_CHARS = 128
MAX_TASK_DESCRIPTION_CHARS = 4096
MAX_IDS_PER_CALL = 1000
IDEMPOTENCY_WINDOW_MICROS = 24 * 3600 * 1_000_000
# Pages stop adding bodies past this many bytes so a response always fits the channel limit.
PAGE_BODY_BUDGET_BYTES = 16 * 1024 * 1024


def page_size(requested: int, default: int, maximum: int) -> int:
    """AIP-158 page size: 0 means the default, above the maximum is clamped, negative is bad."""
    if requested < 0:
        raise invalid("page_size", "must not be negative")
    if requested == 0:
        return default
    return min(requested, maximum)


def check_length(field: str, value: str, maximum: int, reason: str = "INVALID_ARGUMENT") -> None:
    """Raise InvalidArgument when ``value`` has more than ``maximum`` characters."""
    if len(value) > maximum:
        raise invalid(field, f"must be at most {maximum} characters (got {len(value)})", reason)
