"""What an idempotency key is bound to: a digest of everything that shapes a send."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentmail_server.domain.models import Importance, Recipient

if TYPE_CHECKING:
    from agentmail_server.services.compose import Compose


def content_digest(
    compose: Compose,
    recipients: Sequence[Recipient],
    broadcast: bool,
    reply_to: int | None,
) -> str:
    """What an idempotency key is bound to: everything that shapes the committed message.

    Recipients count as resolved agents and kinds (so "bob" and "Bob" are the same request);
    a reply also binds the message replied to. The idempotency key itself is left out.
    """
    content = {
        "reply_to": reply_to,
        "broadcast": broadcast,
        "recipients": sorted((int(r.kind), r.agent_id) for r in recipients),
        "subject": compose.subject.strip(),
        "body": compose.body,
        "importance": compose.importance or int(Importance.NORMAL),
        "ack_required": compose.ack_required,
        "thread_id": compose.thread_id,
        "topic": compose.topic,
    }
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()
