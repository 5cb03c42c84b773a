"""Typed asynchronous client of the agentmail service.

Everything public is importable from here; the ``_``-prefixed modules are private.

Example::

    from agentmail_client import AgentmailClient, NotFound

    async with AgentmailClient("127.0.0.1:7070") as client:
        project = (await client.ensure_project("/srv/repo")).project
        await client.register_agent(project.slug, "Alice", program="claude-code")
        try:
            await client.send_message(to="Bob", subject="Hello", body="Hi Bob")
        except NotFound as error:
            print(error.reason, error.metadata.get("missing"))
"""

from ._bulk import OutgoingMessage
from ._client import AgentmailClient
from ._config import ChannelConfig, ReconnectPolicy, RetryPolicy, Timeouts, TlsConfig
from ._contact_models import (
    Contact,
    ContactPolicy,
    ContactState,
    RequestContactResult,
    SkippedRecipient,
)
from ._errors import (
    AgentmailError,
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    QuotaViolation,
    ResourceExhausted,
    ServerError,
    Unauthenticated,
    Unavailable,
    error_class_for,
    error_from_rpc,
)
from ._events import (
    AcknowledgementEvent,
    AgentEvent,
    ContactEvent,
    ContactEventKind,
    ReservationEvent,
    ReservationEventKind,
)
from ._models import (
    Agent,
    DeliveryState,
    EnsureProjectResult,
    GetMessageResult,
    Importance,
    InboxItem,
    InboxOrder,
    Message,
    Page,
    Project,
    RecipientKind,
    RegisterAgentResult,
    RevokedTokens,
    SendMessageResult,
)
from ._receipt_models import (
    AckOrder,
    MessageReceipts,
    OutboxPage,
    PendingAck,
    PendingAcksPage,
    Receipt,
)
from ._reservation_models import (
    CheckConflictsResult,
    Conflict,
    ForceReleaseResult,
    Reservation,
    ReservationHolder,
    ReserveMode,
    ReservePathsResult,
)
from ._search_models import ActionItem, SearchHit, SearchOrder, SearchScope, ThreadSummary
from ._subscribe import Subscription
from ._wait import WaitForMailResult

__all__ = [
    "AckOrder",
    "AcknowledgementEvent",
    "ActionItem",
    "Agent",
    "AgentEvent",
    "AgentmailClient",
    "AgentmailError",
    "AlreadyExists",
    "ChannelConfig",
    "CheckConflictsResult",
    "Conflict",
    "Contact",
    "ContactEvent",
    "ContactEventKind",
    "ContactPolicy",
    "ContactState",
    "DeadlineExceeded",
    "DeliveryState",
    "EnsureProjectResult",
    "FailedPrecondition",
    "FieldViolation",
    "ForceReleaseResult",
    "GetMessageResult",
    "Importance",
    "InboxItem",
    "InboxOrder",
    "InvalidArgument",
    "Message",
    "MessageReceipts",
    "NotFound",
    "OutOfRange",
    "OutboxPage",
    "OutgoingMessage",
    "Page",
    "PendingAck",
    "PendingAcksPage",
    "PermissionDenied",
    "Project",
    "QuotaViolation",
    "Receipt",
    "RecipientKind",
    "ReconnectPolicy",
    "RegisterAgentResult",
    "RequestContactResult",
    "Reservation",
    "ReservationEvent",
    "ReservationEventKind",
    "ReservationHolder",
    "ReserveMode",
    "ReservePathsResult",
    "ResourceExhausted",
    "RetryPolicy",
    "RevokedTokens",
    "SearchHit",
    "SearchOrder",
    "SearchScope",
    "SendMessageResult",
    "ServerError",
    "SkippedRecipient",
    "Subscription",
    "ThreadSummary",
    "Timeouts",
    "TlsConfig",
    "Unauthenticated",
    "Unavailable",
    "WaitForMailResult",
    "error_class_for",
    "error_from_rpc",
]

# Present the public names as members of this package (as httpx does), so that reprs,
# tracebacks and generated docs show the supported import path, not a private module.
for _name in __all__:
    _member = globals()[_name]
    if isinstance(_member, type) or callable(_member):
        _member.__module__ = __name__
del _name, _member
