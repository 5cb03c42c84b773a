"""Inbox cursors: sealed to their agent, and checked against the inbox's tail.

One cursor form serves an item's ``cursor``, an oldest-first inbox page token, the
``SubscribeInbox`` cursor and a heartbeat's tail cursor, so that any of them can be passed
to any of those places. A cursor is bound to its agent only (not to filters): resuming with
other filters from a saved cursor is allowed and skips nothing.
"""

from __future__ import annotations

from agentmail_server.domain import cursors
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.models import Identity
from agentmail_server.errors import FieldViolation, OutOfRange
from agentmail_server.storage.ports import MailReads


class InboxCursors:
    """Issues and checks the inbox cursors of each caller.

    Args:
        codec: Seals and opens tokens with the server's key.
        queries: For the inbox's tail, one index seek per presented cursor.
    """

    def __init__(self, codec: CursorCodec, queries: MailReads) -> None:
        self._codec = codec
        self._queries = queries

    def cursor(self, caller: Identity, message_id: int, kind: str = cursors.INBOX_ASC) -> str:
        """The token for continuing ``caller``'s inbox after (or, newest-first, before)
        ``message_id``; 0 is the start of the inbox."""
        return self._codec.encode(kind, (caller.agent_id,), message_id)

    def cursors_of(self, caller: Identity, message_ids: list[int]) -> list[str]:
        """:meth:`cursor` of each of ``message_ids`` (oldest-first form), sealed in one go."""
        return self._codec.encode_each(cursors.INBOX_ASC, (caller.agent_id,), message_ids)

    def opened(
        self, caller: Identity, token: str, kind: str = cursors.INBOX_ASC, field: str = "cursor"
    ) -> int | None:
        """The message id ``token`` continues from (None for an empty token), not yet checked
        against the inbox's tail (see :meth:`check_not_ahead`).

        Raises:
            InvalidArgument: INVALID_PAGE_TOKEN: not a cursor issued to this agent.
        """
        return self._codec.decode(token, kind, (caller.agent_id,), field)

    async def check_not_ahead(self, caller: Identity, position: int, field: str = "cursor") -> None:
        """Fail when ``position`` is past the inbox's newest message (one index seek).

        Raises:
            OutOfRange: CURSOR_AHEAD: issued by this server, but past the inbox's newest
                message: the data folder was restored from a backup older than the cursor.
                Resuming from it would silently skip whatever mail is delivered up to it.
        """
        if position > await self._queries.inbox_tail(caller.agent_id):
            raise OutOfRange(
                "CURSOR_AHEAD",
                f"{field} is past the end of this inbox (was the server restored from an "
                "older backup?); start again without it",
                violations=[FieldViolation(field, "is past the newest message of this inbox")],
            )

    async def position(
        self, caller: Identity, token: str, kind: str = cursors.INBOX_ASC, field: str = "cursor"
    ) -> int | None:
        """The message id ``token`` continues from; None for an empty token.

        Raises:
            InvalidArgument: INVALID_PAGE_TOKEN: not a cursor issued to this agent (another
                agent's, made up, garbled, or of another list or order).
            OutOfRange: CURSOR_AHEAD: past the inbox's newest message (see
                :meth:`check_not_ahead`).
        """
        position = self.opened(caller, token, kind, field)
        if position:
            await self.check_not_ahead(caller, position, field)
        return position
