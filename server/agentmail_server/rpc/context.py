"""Reading call metadata from a servicer context."""

from __future__ import annotations

import grpc


def metadata_value(context: grpc.aio.ServicerContext[object, object], key: str) -> str | None:
    """The first value of metadata ``key`` (lower-case) sent with the call, or None."""
    for item in context.invocation_metadata() or ():
        if item[0] == key:
            value = item[1]
            return value.decode() if isinstance(value, bytes) else value
    return None


def authorization(context: grpc.aio.ServicerContext[object, object]) -> str | None:
    """The call's ``authorization`` metadata value, or None."""
    return metadata_value(context, "authorization")
