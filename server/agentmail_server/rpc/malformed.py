"""Request bytes that do not parse: answered INVALID_ARGUMENT by the interceptor, not UNKNOWN.

gRPC deserializes a request before any handler or interceptor code runs, and a deserializer
that raises makes it answer UNKNOWN, log an ERROR traceback and skip the interceptor (so the
call is missing from the metrics). The interceptor therefore installs :func:`tolerant`
deserializers, which turn a parse failure into a :class:`Malformed` placeholder; the wrapped
handler sees the placeholder and fails the call with :func:`malformed_error` like any other
bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentmail_server.errors import InvalidArgument, invalid

MALFORMED_REQUEST = "MALFORMED_REQUEST"


class Malformed:
    """Stands for a request message whose bytes did not parse.

    Attributes:
        message_type: the full name of the expected message (e.g. ``agentmail.v1.X``).
    """

    __slots__ = ("message_type",)

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type


def _message_type(deserializer: Callable[[bytes], Any]) -> str:
    """The message name behind a generated ``Message.FromString``, or ``request`` if unknown."""
    owner = getattr(deserializer, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    name = getattr(descriptor, "full_name", None)
    return name if isinstance(name, str) else "request"


def tolerant(
    deserializer: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """Wrap ``deserializer`` so that a parse failure returns a :class:`Malformed` instead.

    None (raw bytes, as the ceiling endpoints take) stays None: there is nothing to parse.
    """
    if deserializer is None:
        return None
    message_type = _message_type(deserializer)

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        # DecodeError for bad wire format or invalid UTF-8 in a string field; anything else a
        # deserializer raises is also about the caller's bytes, never a server bug.
        except Exception:
            return Malformed(message_type)

    return deserialize


def malformed_error(request: Malformed) -> InvalidArgument:
    """The error a caller gets for unparseable request bytes.

    The parser's own message is left out: it names no field, only the message type.
    """
    return invalid(
        "request",
        f"the request bytes are not a valid {request.message_type} (bad protobuf encoding, "
        "or invalid UTF-8 in a string field)",
        reason=MALFORMED_REQUEST,
    )
