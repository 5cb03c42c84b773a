"""Inbox page rows for the wire: a message and its reader's delivery as one flat tuple.

A ListInbox page goes straight from the database to the wire, so building a
:class:`~agentmail_server.domain.models.Message` and a
:class:`~agentmail_server.domain.models.Delivery` per item, then a second, reader-restricted
Message (:meth:`~agentmail_server.domain.models.Message.seen_by`), then the protobuf, made the
page pay for three objects per item it never needed (measured: about a third of the page's
CPU). Instead each backend selects exactly the fields the wire carries, in the wire's order,
with the reader's bcc view already applied in SQL
(``storage.sqlite.rows.inbox_row_columns``), and the rpc layer builds the page from
these tuples in one pass.

The row (:data:`InboxRow`), by index:

0. message id; 1. thread id; 2. sender name; 3. to names, 4. cc names and 5. bcc names, each
   comma-joined as stored (agent names hold no comma; "" for none); bcc is the reader's view:
   every bcc name when the reader sent the message, the reader's own name when it was
   addressed as bcc, "" otherwise (the same rule as ``Message.seen_by``);
6. subject; 7. body (None when the page is envelopes only); 8. importance; 9. ack required
   (bool or 0/1); 10. topic; 11. creation time (µs); 12. body size (bytes);
13. the delivery's recipient kind; 14. read time and 15. ack time (µs, None when unset).
"""

from __future__ import annotations

from typing import Any

InboxRow = tuple[Any, ...]
"""One item of an inbox page, in the order documented above."""

ID = 0
BODY = 7
BODY_SIZE = 12
