"""Wire-level checks of a request, run by every servicer before it converts the request.

proto3 enums are open: a client built from a newer contract, or one writing raw numbers
(grpcurl, a hand-made Go or Node request), can send an enum number this server does not know,
and the generated code accepts it silently. A ``google.protobuf.Timestamp`` likewise carries
any ``seconds`` and ``nanos``, while only 0001-01-01..9999-12-31 and nanos in [0, 1e9) are
valid (and only that range converts to datetimes and fits SQLite integers as microseconds).

:func:`check_request` walks the request's descriptor, so a field added later is checked
without anyone remembering to: each unknown enum value fails with UNKNOWN_ENUM_VALUE, each
invalid timestamp with INVALID_TIMESTAMP, both as INVALID_ARGUMENT naming the field path.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from agentmail_server.errors import invalid

# The range google.protobuf.Timestamp documents: 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z.
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799
MAX_NANOS = 999_999_999
_TIMESTAMP = timestamp_pb2.Timestamp.DESCRIPTOR.full_name


def check_request(request: Message, prefix: str = "") -> None:
    """Raise InvalidArgument for the first unknown enum value or invalid timestamp in
    ``request`` (nested messages included; paths such as ``agent.create_time``)."""
    for name, repeated, enum_type, known in _plan(request.DESCRIPTOR):
        if enum_type is not None:
            if repeated:
                for index, value in enumerate(getattr(request, name)):
                    if value not in known:
                        _check_enum(f"{prefix}{name}[{index}]", enum_type, value)
            elif (value := getattr(request, name)) not in known:
                _check_enum(f"{prefix}{name}", enum_type, value)
        elif repeated:
            for index, item in enumerate(getattr(request, name)):
                _check_message(f"{prefix}{name}[{index}]", item)
        elif request.HasField(name):
            _check_message(f"{prefix}{name}", getattr(request, name))


# What :func:`check_request` looks at in each message type: (field name, repeated, enum type
# or None for a message field, the enum's known numbers). Walking the descriptor's fields for
# every request cost a send about 10 µs; the plan is built once per message type, so this
# map holds at most one entry per message type of the contract (a few hundred at most).
_Plan = tuple[tuple[str, bool, Any, frozenset[int]], ...]
_PLANS: dict[Any, _Plan] = {}


def _plan(descriptor: Any) -> _Plan:
    plan = _PLANS.get(descriptor)
    if plan is None:
        steps = []
        for field in descriptor.fields:
            if field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
                known = frozenset(field.enum_type.values_by_number)
                steps.append((field.name, field.is_repeated, field.enum_type, known))
            elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
                if field.message_type.GetOptions().map_entry:
                    continue  # no request has a map of enums or timestamps
                steps.append((field.name, field.is_repeated, None, frozenset()))
        plan = _PLANS[descriptor] = tuple(steps)
    return plan


def _check_message(path: str, message: Message) -> None:
    if message.DESCRIPTOR.full_name == _TIMESTAMP:
        check_timestamp(path, message)  # type: ignore[arg-type]
    else:
        check_request(message, f"{path}.")


def _check_enum(path: str, enum: Any, value: int) -> None:
    # ``enum`` is an EnumDescriptor: the pure-Python or the upb one, which the stubs type apart.
    if value not in enum.values_by_number:
        known = ", ".join(v.name for v in enum.values)
        raise invalid(
            path,
            f"unknown {enum.full_name} value {value}; this server knows {known}",
            "UNKNOWN_ENUM_VALUE",
        )


def check_timestamp(path: str, stamp: timestamp_pb2.Timestamp) -> None:
    """Raise InvalidArgument (INVALID_TIMESTAMP) unless ``stamp`` is a valid Timestamp."""
    if not MIN_TIMESTAMP_SECONDS <= stamp.seconds <= MAX_TIMESTAMP_SECONDS:
        raise invalid(
            path,
            f"seconds must be within {MIN_TIMESTAMP_SECONDS}..{MAX_TIMESTAMP_SECONDS}"
            f" (0001-01-01T00:00:00Z..9999-12-31T23:59:59Z), got {stamp.seconds}",
            "INVALID_TIMESTAMP",
        )
    if not 0 <= stamp.nanos <= MAX_NANOS:
        raise invalid(
            path, f"nanos must be within 0..{MAX_NANOS}, got {stamp.nanos}", "INVALID_TIMESTAMP"
        )


def micros(stamp: timestamp_pb2.Timestamp) -> int:
    """Microseconds since the epoch of a timestamp :func:`check_timestamp` accepted."""
    return stamp.seconds * 1_000_000 + stamp.nanos // 1_000
