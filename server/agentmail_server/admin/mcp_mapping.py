"""How mcp_agent_mail's values map onto agentmail's model (pure functions, no I/O).

agentmail's rules are stricter than the source's in a few places, and the import keeps data
rather than dropping it where a faithful mapping exists:

- Agent names: a letter, then up to 63 letters, digits, ``_`` or ``-``, unique per project
  without regard to case. The source allows 128 characters of anything, unique by case. A
  name that breaks the rule is mapped (other characters become ``_``, a leading non-letter
  gets an ``A`` in front, cut to 64) and reported as renamed; one that still collides with an
  agent already mapped in the project is skipped (reported), with its mail.
- Single-line text (subjects, thread ids, program, model, reasons) takes no control
  character here: each becomes a space. Over-long single-line text is cut (subjects to 200
  characters with ``…``; the source allows 512). Bodies over agentmail's 1 MiB are not cut
  (that would change what was said): the message is skipped and reported.
- Importance ``low``/``normal``/``high``/``urgent`` maps to the same level; anything else
  becomes normal (reported). Recipient kinds other than ``to``/``cc``/``bcc`` drop that
  recipient (reported).
- Contact links: ``pending``/``approved``/``blocked`` map to the same states; others are
  skipped. Contact policies ``open``/``auto``/``contacts_only``/``block_all`` map to the
  same; anything else leaves the agent on the server's default (reported).
"""

from __future__ import annotations

import re

from agentmail_server.domain import limits, names
from agentmail_server.domain.contacts import ContactPolicy, ContactState
from agentmail_server.domain.models import Importance, RecipientKind

MAX_NAME_CHARS = 64
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")
_SINGLE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTI_LINE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
NO_SUBJECT = "(no subject)"

IMPORTANCE = {
    "low": Importance.LOW,
    "normal": Importance.NORMAL,
    "high": Importance.HIGH,
    "urgent": Importance.URGENT,
}
KINDS = {"to": RecipientKind.TO, "cc": RecipientKind.CC, "bcc": RecipientKind.BCC}
LINK_STATES = {
    "pending": ContactState.PENDING,
    "approved": ContactState.APPROVED,
    "blocked": ContactState.BLOCKED,
}


def agent_name(raw: str) -> str | None:
    """The agentmail name for a source agent name (itself when valid); None when nothing
    usable is left."""
    if names.is_valid_agent_name(raw):
        return raw
    mapped = _NOT_NAME.sub("_", raw.strip())
    if not mapped.strip("_-"):
        return None
    if not mapped[0].isascii() or not mapped[0].isalpha():
        mapped = "A" + mapped
    mapped = mapped[:MAX_NAME_CHARS]
    return mapped if names.is_valid_agent_name(mapped) else None


def single_line(text: str, maximum: int, ellipsis: str = "") -> str:
    """``text`` with control characters as spaces, cut to ``maximum`` characters (ending in
    ``ellipsis`` when cut)."""
    cleaned = _SINGLE_LINE_FORBIDDEN.sub(" ", text)
    if len(cleaned) <= maximum:
        return cleaned
    return cleaned[: maximum - len(ellipsis)] + ellipsis


def multi_line(text: str, maximum: int) -> str:
    """``text`` keeping tabs and line breaks, other control characters as spaces, cut to
    ``maximum`` characters."""
    return _MULTI_LINE_FORBIDDEN.sub(" ", text)[:maximum]


def subject(raw: str) -> tuple[str, bool]:
    """The subject to store, and whether it had to be cut."""
    cleaned = single_line(raw, limits.MAX_SUBJECT_CHARS, "…")
    if not cleaned.strip():
        return NO_SUBJECT, False
    return cleaned, len(_SINGLE_LINE_FORBIDDEN.sub(" ", raw)) > limits.MAX_SUBJECT_CHARS


def importance(raw: str) -> Importance | None:
    """The level of a source importance; None when unknown."""
    return IMPORTANCE.get(raw.strip().lower())


def recipient_kind(raw: str) -> RecipientKind | None:
    """The kind of a source recipient row; None when unknown."""
    return KINDS.get(raw.strip().lower())


def contact_policy(raw: str) -> ContactPolicy | None:
    """The policy a source agent set; None when unknown."""
    try:
        return ContactPolicy.parse(raw)
    except ValueError:
        return None


def link_state(raw: str) -> ContactState | None:
    """The state of a source contact link; None when unknown."""
    return LINK_STATES.get(raw.strip().lower())
