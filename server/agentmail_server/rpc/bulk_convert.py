"""Wire form of SendMessages results: each item's message, or its error as a status would be.

Kept apart from :mod:`.convert` (the per-message conversions) because an item's error is a
status in miniature: the code, reason, message and metadata SendMessage would have failed
with, clipped as :mod:`.status` clips a real status.
"""

from __future__ import annotations

from agentmail.v1 import mail_service_pb2

from agentmail_server.domain.drafts import Sent
from agentmail_server.errors import AgentmailError
from agentmail_server.rpc import convert
from agentmail_server.rpc.status import (
    MAX_FIELD_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_METADATA_VALUE_BYTES,
    clip,
    status_code_for,
)


def send_error_pb(error: AgentmailError) -> mail_service_pb2.SendError:
    """The status SendMessage would have failed with, as one item's error."""
    field = error.violations[0].field if error.violations else ""
    return mail_service_pb2.SendError(
        code=status_code_for(error).value[0],
        reason=error.reason,
        message=clip(error.message, MAX_MESSAGE_BYTES),
        field=clip(field, MAX_FIELD_BYTES),
        metadata={
            key: clip(value, MAX_METADATA_VALUE_BYTES) for key, value in error.metadata.items()
        },
    )


def send_result_pb(
    outcome: Sent | AgentmailError, project_slug: str
) -> mail_service_pb2.SendMessagesResult:
    """One item's result: what SendMessage would have returned, or its error."""
    if isinstance(outcome, AgentmailError):
        return mail_service_pb2.SendMessagesResult(error=send_error_pb(outcome))
    return mail_service_pb2.SendMessagesResult(
        sent=mail_service_pb2.SendMessageResponse(
            message=convert.message_pb(outcome.message, project_slug),
            deduplicated=outcome.deduplicated,
            skipped=[convert.skipped_pb(skipped) for skipped in outcome.skipped],
        )
    )
