"""What a write asks storage for, and what a committed send reports back.

Value types that cross layers: the services build them, every storage backend takes and returns
them, and the commit feed carries them to the hub, the archive and the metrics.
"""

from __future__ import annotations

import dataclasses

from agentmail_server.domain.contacts import SendRules, Skipped
from agentmail_server.domain.models import Importance, Message, Recipient
from agentmail_server.errors import Unauthenticated


@dataclasses.dataclass(frozen=True)
class Registration:
    """What RegisterAgent asks for. ``presented_token_hash`` is the caller's token, if any."""

    project_id: int
    name: str
    program: str
    model: str
    task_description: str
    new_token_hash: str
    presented_token_hash: str | None
    # Why this call may not create a new agent (the enrollment secret is missing or wrong);
    # None when it may. Raised by the storage only if the name turns out to be new.
    enrollment_problem: Unauthenticated | None = None


@dataclasses.dataclass(frozen=True)
class Draft:
    """A validated message ready to store. Recipients are resolved and de-duplicated."""

    project_id: int
    sender_id: int
    sender_name: str
    recipients: tuple[Recipient, ...]
    subject: str
    body: str
    importance: Importance
    ack_required: bool
    thread_id: str
    topic: str
    idempotency_key: str
    # Digest of the send's content, stored with the key: a repeat of the key must match it.
    idempotency_digest: str = ""
    # The contact rules each recipient is judged by in the storing transaction; None only for
    # mail the server itself composes on the sender's behalf (a contact request's intro).
    rules: SendRules | None = None
    # A broadcast skips the recipients that refuse (reported in ``Sent.skipped``) instead of
    # failing the whole send.
    broadcast: bool = False
    # ``(agent_id, time)`` of recipients' activity not yet written (presence stamps wait in
    # memory for a few seconds): the broadcast idle rule takes the later of these and the
    # stored last-active time, so an agent active a moment ago is never skipped as idle.
    recent_activity: tuple[tuple[int, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class Sent:
    """A committed send: the full message (sender's view) and whom it was delivered to.

    ``deduplicated`` is True when an earlier send with the same idempotency key answered the
    request; then ``recipients`` is empty and nothing new was committed. ``skipped`` lists the
    agents a broadcast left out.
    """

    message: Message
    recipients: tuple[Recipient, ...]
    deduplicated: bool
    skipped: tuple[Skipped, ...] = ()
