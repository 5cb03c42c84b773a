"""The storage interfaces the services, the hub and the composition root use.

Services and the hub import nothing else of :mod:`agentmail_server.storage`; each backend
(today :mod:`agentmail_server.storage.sqlite`) implements these Protocols. Values crossing them
are the domain's (:mod:`agentmail_server.domain`); times are integer microseconds since the
epoch; errors are the tree in :mod:`agentmail_server.errors`.

Invariants every backend must keep (the suite checks each one through the gRPC API; a new
backend proves them by passing it):

1. **Durable before visible.** A write's awaiter resumes only after its transaction is
   durable, and the :class:`CommitFeed` publishes a commit only then. A subscriber never sees
   a message that a crash could take back.
2. **Gap-free, commit-ordered ids.** Message ids grow in commit order: once a reader has seen
   message N, no message with an id below N can commit later. Cursors and keyset pages rely
   on it ("a reader never sees id N+1 committed before N"). Notices (coordination events for
   one agent) take their positions from the same sequence, under the same rule, so one cursor
   orders an agent's mail and notices together; ids may therefore skip numbers.
3. **Read your writes.** A read started after a write's awaiter resumed sees that write.
4. **One feed, in order, once.** Each committed transaction that changed something is
   published exactly once, in commit order, on the event loop, as one
   :class:`~agentmail_server.domain.events.Commit`.
5. **Atomic operations.** Each write operation commits whole or not at all; a failing
   operation never takes others down with it (it fails alone with its own error).
6. **Idempotent sends.** A send repeating a sender's idempotency key within
   ``IDEMPOTENCY_WINDOW_MICROS`` commits nothing: with the same ``Draft.idempotency_digest``
   it returns the original message (``Sent.deduplicated``), with another it fails with
   ``FailedPrecondition`` (IDEMPOTENCY_KEY_REUSED); after the window the key is taken over
   by the new send.
7. **First-wins receipts.** Read and acknowledgement times are set once and never change;
   marking is all or nothing (one unknown id fails the whole call with MESSAGE_NOT_FOUND).
8. **Raw reads, filtered visibility.** Reads return only messages the viewer sent or
   received (search also applies its filters in the query), but the message as stored:
   hiding bcc recipients from a viewer is the services' job (``Message.seen_by``).
9. **Bounded and honest under pressure.** A full write queue fails fast with
   ``ResourceExhausted`` (WRITER_OVERLOADED, with a retry delay); writes after shutdown began
   fail with ``Unavailable`` (SHUTTING_DOWN); a transaction the database cannot commit fails
   every operation in it with ``Unavailable`` (STORAGE_FULL, STORAGE_READ_ONLY or
   STORAGE_UNAVAILABLE, with a retry delay) and loses nothing that was acknowledged before.
10. **Failing writes are reported and heal by themselves.** While whole commits fail, the
   listeners of :meth:`Storage.watch_writes` hold the error (the server reports NOT_SERVING);
   the backend keeps probing and tells them None as soon as a commit succeeds, with reads
   served throughout.
11. **Receipts for the sender only.** :class:`ReceiptReads` returns a message's receipts
   (every recipient's delivery, read and ack times) only to its sender: a message of any
   other sender gets none, whoever asks. A recipient's own list of unacknowledged mail holds
   only its deliveries. Both acknowledgement listings are index seeks over the deliveries
   still waiting (an acknowledgement takes its delivery out of both at once, by invariant 7's
   first-wins write), never a scan of a sender's or a recipient's history.
12. **Contact policies hold at commit.** ``MailWrites.insert_message`` judges every recipient
   of a draft with ``Draft.rules`` by :func:`agentmail_server.domain.contacts.refusal`, on
   facts read in the transaction that stores the message: a refusal stores nothing (explicit
   recipients) or leaves the agent out and reports it (a broadcast). An idempotent repeat
   returns the original before any judgement.
13. **Presence is cheap.** Last-active times are written in batches (``LifecycleWrites
   .touch_agents``), never once per call, and only ever move forward.
14. **Reservations: expiry by time, one winner.** A reservation is active while
   ``released_at`` is None and ``expires_at > now`` for the ``now`` the caller passes: every
   read and conflict check decides by time, whether or not the expiry sweep has run. A
   ReservePaths checks conflicts and grants in one atomic operation serialised with every
   other write, so of concurrent exclusive requests for overlapping patterns exactly one is
   granted.

The Protocols live in :mod:`.writes`, :mod:`.reads` and :mod:`.backend`, one module per kind;
import them from this package.
"""

from __future__ import annotations

from agentmail_server.storage.ports.backend import (
    CommitFeed,
    CommitListener,
    Storage,
    WriteHealthListener,
)
from agentmail_server.storage.ports.reads import (
    AckPosition,
    MailReads,
    ReceiptReads,
    ReservationReads,
    SearchReads,
)
from agentmail_server.storage.ports.writes import (
    AgentWrites,
    ContactWrites,
    LifecycleWrites,
    MailWrites,
    ReservationWrites,
    RetentionWrites,
)

__all__ = [
    "AckPosition",
    "AgentWrites",
    "CommitFeed",
    "CommitListener",
    "ContactWrites",
    "LifecycleWrites",
    "MailReads",
    "MailWrites",
    "ReceiptReads",
    "ReservationReads",
    "ReservationWrites",
    "RetentionWrites",
    "SearchReads",
    "Storage",
    "WriteHealthListener",
]
