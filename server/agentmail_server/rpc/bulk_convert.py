"""Wire form of SendMessages results: each item's message, or its error as a status would be.

Kept apart from :mod:`.convert` (the per-message conversions) because an item's error is a
status in miniature: the code, reason, message and metadata SendMessage would have failed
with, clipped as :mod:`.status` clips a real status.
"""

from __future__ import annotations

from typing import Any

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


def send_result_fields(outcome: Sent | AgentmailError, project_slug: str) -> convert.Fields:
    """One item's result (what SendMessage would have returned, or its error) as the fields
    of a ``SendMessagesResult``: the response is built from dicts in one constructor call, as
    :func:`.convert.inbox_response` builds a page (measured: 14-19 -> 4-7 µs per item)."""
    if isinstance(outcome, AgentmailError):
        return {"error": send_error_pb(outcome)}
    sent: convert.Fields = {"message": convert.message_fields(outcome.message, project_slug)}
    if outcome.deduplicated:
        sent["deduplicated"] = True
    if outcome.skipped:
        sent["skipped"] = [{"name": s.name, "reason": s.reason} for s in outcome.skipped]
    return {"sent": sent}


def send_messages_response(
    outcomes: list[Sent | AgentmailError], project_slug: str
) -> mail_service_pb2.SendMessagesResponse:
    """The SendMessages response: one result per item, in order."""
    # The stubs type the field as messages; upb takes their fields as dicts.
    results: Any = [send_result_fields(outcome, project_slug) for outcome in outcomes]
    return mail_service_pb2.SendMessagesResponse(results=results)
