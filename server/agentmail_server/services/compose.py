"""What a caller writes into a new message or a reply, and the checks it must pass.

Kept apart from :mod:`.mail` (the use cases) because the bulk path and the idempotency digest
take the same content, and each should not need the whole mailer to describe it.
"""

from __future__ import annotations

import dataclasses

from agentmail_server.domain import limits
from agentmail_server.domain.models import IMPORTANCE_VALUES
from agentmail_server.errors import invalid


@dataclasses.dataclass(frozen=True)
class Compose:
    """The caller-controlled content of a new message (before validation)."""

    subject: str
    body: str
    importance: int = 0
    ack_required: bool = False
    thread_id: str = ""
    topic: str = ""
    idempotency_key: str = ""


def reply_subject(subject: str) -> str:
    """The default subject of a reply: ``Re: <original>`` (once), cut to the limit."""
    if subject[:3].casefold() == "re:":
        return subject
    return f"Re: {subject}"[: limits.MAX_SUBJECT_CHARS]


def check_compose(compose: Compose) -> None:
    """Raise InvalidArgument (with the field) for content no message may have."""
    if not compose.subject.strip():
        raise invalid("subject", "is required")
    limits.check_length("subject", compose.subject, limits.MAX_SUBJECT_CHARS, "SUBJECT_TOO_LONG")
    size = len(compose.body.encode())
    if size > limits.MAX_BODY_BYTES:
        raise invalid(
            "body",
            f"must be at most {limits.MAX_BODY_BYTES} bytes of UTF-8 (got {size})",
            "BODY_TOO_LARGE",
        )
    if compose.importance not in IMPORTANCE_VALUES:
        raise invalid(
            "importance", f"unknown importance {compose.importance}", "UNKNOWN_ENUM_VALUE"
        )
    limits.check_length("thread_id", compose.thread_id, limits.MAX_THREAD_ID_CHARS)
    limits.check_length("topic", compose.topic, limits.MAX_TOPIC_CHARS)
    limits.check_length(
        "idempotency_key", compose.idempotency_key, limits.MAX_IDEMPOTENCY_KEY_CHARS
    )
