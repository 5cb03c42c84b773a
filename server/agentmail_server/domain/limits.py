"""Request limits, page-size rules and which characters each kind of text field allows."""

from __future__ import annotations

import re

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
# The longest overdue threshold of acknowledgement tracking (setting or request): ten years.
MAX_ACK_OVERDUE_SECONDS = 10 * 365 * 24 * 3600
# Pages stop adding bodies past this many bytes so a response always fits the channel limit.
PAGE_BODY_BUDGET_BYTES = 16 * 1024 * 1024


def page_size(requested: int, default: int, maximum: int) -> int:
    """AIP-158 page size: 0 means the default, above the maximum is clamped, negative is bad."""
    if requested < 0:
        raise invalid("page_size", "must not be negative")
    if requested == 0:
        return default
    return min(requested, maximum)


# Single-line text (subjects, topics, thread ids, keys, names, program, model) takes no control
# character (Unicode Cc) and no Unicode line or paragraph separator: such values end up in
# log lines, git commit messages and archive paths, where a newline forges a line.
_SINGLE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Multi-line text (task descriptions) may break lines and indent, nothing else.
_MULTI_LINE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_length(
    field: str,
    value: str,
    maximum: int,
    reason: str = "INVALID_ARGUMENT",
    *,
    multiline: bool = False,
) -> None:
    """Check a text field's length and characters (every bounded text field goes through here).

    Args:
        field: The request field, named in the violation.
        value: Its value.
        maximum: Most characters allowed.
        reason: The ErrorInfo reason of a too-long value.
        multiline: Allow tab, newline and carriage return (else the value is single-line text).

    Raises:
        InvalidArgument: too long (``reason``), or CONTROL_CHARACTER naming the first
            forbidden character's code point and position.
    """
    if len(value) > maximum:
        raise invalid(field, f"must be at most {maximum} characters (got {len(value)})", reason)
    check_characters(field, value, multiline=multiline)


def check_characters(field: str, value: str, *, multiline: bool = False) -> None:
    """Raise InvalidArgument (CONTROL_CHARACTER) when ``value`` holds a forbidden character."""
    forbidden = _MULTI_LINE_FORBIDDEN if multiline else _SINGLE_LINE_FORBIDDEN
    found = forbidden.search(value)
    if found is not None:
        kind = "multi-line" if multiline else "single-line"
        raise invalid(
            field,
            f"must be {kind} text without control characters"
            f" (found U+{ord(found.group()):04X} at index {found.start()})",
            "CONTROL_CHARACTER",
        )
