"""Validation of reservation requests: patterns, durations, selections. Bad input raises
InvalidArgument naming the field (``paths[3]``) with a stable reason."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from agentmail_server.domain import limits
from agentmail_server.domain import reservation_patterns as patterns
from agentmail_server.domain.reservations import (
    MAX_PATTERNS_PER_RESERVE,
    MAX_REASON_CHARS,
    MAX_TTL_SECONDS,
    MIN_TTL_SECONDS,
    Selection,
)
from agentmail_server.errors import invalid


def pattern(field: str, raw: str) -> str:
    """One path or pattern, normalised.

    Raises:
        InvalidArgument: naming ``field``, with the pattern module's reason (EMPTY_PATTERN,
            PATTERN_TOO_LONG, CONTROL_CHARACTER, PARENT_REFERENCE, NEGATED_PATTERN,
            MALFORMED_PATTERN or TOO_MANY_WILDCARDS).
    """
    # Checked here first so that a huge value is refused before any parsing.
    limits.check_length(field, raw, patterns.MAX_PATTERN_CHARS, patterns.PATTERN_TOO_LONG)
    try:
        return patterns.normalize(raw)
    except patterns.PatternError as error:
        raise invalid(field, str(error), error.reason) from None


def path(field: str, raw: str) -> str:
    """One plain path (its ``*``, ``?`` and ``[`` are characters), normalised.

    Raises:
        InvalidArgument: as :func:`pattern`.
    """
    limits.check_length(field, raw, patterns.MAX_PATTERN_CHARS, patterns.PATTERN_TOO_LONG)
    try:
        return patterns.normalize_path(raw)
    except patterns.PatternError as error:
        raise invalid(field, str(error), error.reason) from None


def pattern_list(field: str, raws: Sequence[str], maximum: int, *, required: bool) -> list[str]:
    """Normalised patterns without duplicates, in the order given.

    Raises:
        InvalidArgument: EMPTY_PATHS when ``required`` and none are given, TOO_MANY_PATHS
            past ``maximum``, or a malformed pattern.
    """
    if required and not raws:
        raise invalid(field, "at least one path or pattern is required", "EMPTY_PATHS")
    if len(raws) > maximum:
        raise invalid(
            field, f"at most {maximum} paths or patterns (got {len(raws)})", "TOO_MANY_PATHS"
        )
    return list(dict.fromkeys(pattern(f"{field}[{i}]", raw) for i, raw in enumerate(raws)))


def path_list(field: str, raws: Sequence[str], maximum: int) -> list[str]:
    """Normalised real paths (see :func:`path`) without duplicates, in the order given.

    Raises:
        InvalidArgument: EMPTY_PATHS when none are given, TOO_MANY_PATHS past ``maximum``, or
            a path that cannot be one.
    """
    if not raws:
        raise invalid(field, "at least one path is required", "EMPTY_PATHS")
    if len(raws) > maximum:
        raise invalid(field, f"at most {maximum} paths (got {len(raws)})", "TOO_MANY_PATHS")
    return list(dict.fromkeys(path(f"{field}[{i}]", raw) for i, raw in enumerate(raws)))


def seconds(field: str, value: int, default: int) -> int:
    """A duration in whole seconds: 0 means ``default``; else within the allowed range.

    Raises:
        InvalidArgument: INVALID_DURATION outside 60 s .. 30 days.
    """
    if value == 0:
        return default
    if not MIN_TTL_SECONDS <= value <= MAX_TTL_SECONDS:
        raise invalid(
            field,
            f"must be 0 (the default) or within {MIN_TTL_SECONDS}..{MAX_TTL_SECONDS} seconds"
            f" (got {value})",
            "INVALID_DURATION",
        )
    return value


def reason(field: str, value: str) -> str:
    """A single-line reason of at most 512 characters, stripped."""
    limits.check_length(field, value, MAX_REASON_CHARS)
    return value.strip()


def selection(
    ids: Sequence[int], raw_patterns: Sequence[str], everything: bool | None
) -> Selection:
    """Exactly one of ids, patterns or (when ``everything`` is not None) all.

    Raises:
        InvalidArgument: EMPTY_SELECTION when none or several are given, or bad ids/patterns.
    """
    given = [name for name, value in (("ids", ids), ("patterns", raw_patterns)) if value]
    if everything:
        given.append("all")
    choices = "`ids`, `patterns` or `all`" if everything is not None else "`ids` or `patterns`"
    if len(given) != 1:
        raise invalid(
            given[1] if len(given) > 1 else "ids",
            f"give exactly one of {choices}" + (f" (got {', '.join(given)})" if given else ""),
            "EMPTY_SELECTION" if not given else "AMBIGUOUS_SELECTION",
        )
    if ids:
        if len(ids) > limits.MAX_IDS_PER_CALL:
            raise invalid("ids", f"at most {limits.MAX_IDS_PER_CALL} ids (got {len(ids)})")
        bad = next((i for i, value in enumerate(ids) if value <= 0), None)
        if bad is not None:
            raise invalid(f"ids[{bad}]", f"must be a positive reservation id (got {ids[bad]})")
        return Selection(ids=tuple(ids))
    if raw_patterns:
        chosen = pattern_list("patterns", raw_patterns, MAX_PATTERNS_PER_RESERVE, required=True)
        return Selection(patterns=tuple(chosen))
    return Selection(everything=True)


def request_digest(
    chosen: Sequence[str], exclusive: bool, ttl_seconds: int, why: str, mode: int
) -> str:
    """What a ReservePaths idempotency key is bound to (the key itself left out)."""
    content = {
        "patterns": list(chosen),
        "exclusive": exclusive,
        "ttl": ttl_seconds,
        "reason": why,
        "mode": mode,
    }
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()
