"""Message rows on PostgreSQL: the SQLite backend's dialect-neutral mappers, plus the one
difference, NUL in bodies.

A message body may hold any character, NUL included (the SQLite backend stores it as given),
but PostgreSQL ``text`` cannot hold NUL. Bodies are therefore stored escaped: U+E000 (a
private-use character) becomes U+E000 twice and NUL becomes U+E000 then ``0``; reading undoes
it. Bodies without either character (nearly all) are stored as they are; ``body_size`` is the
size of the body as sent.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from agentmail_server.domain.models import Message
from agentmail_server.storage.sqlite import rows as neutral

_MARK = "\ue000"
_ESCAPED = re.compile(_MARK + "(.)", re.DOTALL)


def escape_body(body: str) -> str:
    """``body`` as stored (NUL-free)."""
    if "\x00" not in body and _MARK not in body:
        return body
    return body.replace(_MARK, _MARK + _MARK).replace("\x00", _MARK + "0")


def unescape_body(stored: str | None) -> str | None:
    """The body as sent, from its stored form (None stays None: the body was not read)."""
    if stored is None or _MARK not in stored:
        return stored
    return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "0" else _MARK, stored)


def message_from_row(row: Any, offset: int = 0) -> Message:
    """Build a Message from MESSAGE_COLUMNS and the stored body, starting at offset."""
    message = neutral.message_from_row(row, offset)
    if message.body is None or _MARK not in message.body:
        return message
    return dataclasses.replace(message, body=unescape_body(message.body))
