"""Agent names and project slugs: normalisation rules, applied once at write time."""

from __future__ import annotations

import hashlib
import re

AGENT_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
MAX_SLUG_LENGTH = 64
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def is_valid_agent_name(name: str) -> bool:
    """Whether ``name`` is a letter followed by up to 63 letters, digits, '_' or '-'."""
    return AGENT_NAME_PATTERN.fullmatch(name) is not None


def name_key(name: str) -> str:
    """The case-insensitive key under which an agent name is unique and indexed."""
    return name.casefold()


def base_slug(human_key: str) -> str:
    """The preferred slug for a project key: lowercase words joined by '-'."""
    slug = _NON_SLUG.sub("-", human_key.lower()).strip("-")[:MAX_SLUG_LENGTH].strip("-")
    return slug or "project"


def disambiguated_slug(human_key: str) -> str:
    """The slug used when :func:`base_slug` is taken by another key: a stable hash suffix."""
    digest = hashlib.sha256(human_key.encode()).hexdigest()[:8]
    return f"{base_slug(human_key)[: MAX_SLUG_LENGTH - 9].rstrip('-')}-{digest}"
