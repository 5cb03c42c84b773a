"""The agentmail.v1 wire contract matches its reviewed snapshot.

A change to services, methods, messages, fields or enums fails this test until the snapshot is
rewritten on purpose: ``AGENTMAIL_UPDATE_SNAPSHOTS=1 pytest tests/contract`` rewrites it and
still fails; review the diff of ``tests/contract/snapshots/descriptors.json`` like any other
change to the API and run the tests again.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from agentmail.v1 import (
    agent_service_pb2,
    events_pb2,
    mail_service_pb2,
    receipts_pb2,
    reservation_service_pb2,
    search_service_pb2,
    types_pb2,
)
from google.protobuf import descriptor

from ._snapshot import assert_matches_snapshot

SNAPSHOT = pathlib.Path(__file__).parent / "snapshots" / "descriptors.json"
FILES = (
    agent_service_pb2,
    events_pb2,
    mail_service_pb2,
    receipts_pb2,
    reservation_service_pb2,
    search_service_pb2,
    types_pb2,
)

_TYPE_NAMES = {
    value: name.removeprefix("TYPE_").lower()
    for name, value in vars(descriptor.FieldDescriptor).items()
    if name.startswith("TYPE_") and isinstance(value, int)
}


def _field_type(field: descriptor.FieldDescriptor) -> str:
    if field.message_type is not None:
        entry = field.message_type
        if entry.GetOptions().map_entry:
            key = _field_type(entry.fields_by_name["key"])
            value = _field_type(entry.fields_by_name["value"])
            return f"map<{key}, {value}>"
        return entry.full_name
    if field.enum_type is not None:
        return field.enum_type.full_name
    return _TYPE_NAMES[field.type]


def _field(field: descriptor.FieldDescriptor) -> str:
    """One field as ``NUMBER [repeated] TYPE [(oneof NAME) | (optional)]``, like the .proto."""
    words = [str(field.number)]
    is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
    if field.is_repeated and not is_map:
        words.append("repeated")
    words.append(_field_type(field))
    oneof = field.containing_oneof
    if oneof is not None:
        # proto3 `optional` is a synthetic oneof named after the field with a leading '_'.
        words.append("(optional)" if oneof.name == "_" + field.name else f"(oneof {oneof.name})")
    return " ".join(words)


def _enum(enum: descriptor.EnumDescriptor) -> dict[str, int]:
    return {value.name: value.number for value in enum.values}


def _message(message: descriptor.Descriptor) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "fields": {field.name: _field(field) for field in message.fields},
    }
    nested = {
        nested.name: _message(nested)
        for nested in message.nested_types
        if not nested.GetOptions().map_entry
    }
    if nested:
        shape["messages"] = nested
    enums = {enum.name: _enum(enum) for enum in message.enum_types}
    if enums:
        shape["enums"] = enums
    return shape


def _method(method: descriptor.MethodDescriptor) -> str:
    """One method as ``[stream ]Request -> [stream ]Response``."""
    request = ("stream " if method.client_streaming else "") + method.input_type.full_name
    response = ("stream " if method.server_streaming else "") + method.output_type.full_name
    return f"{request} -> {response}"


def _file(file: descriptor.FileDescriptor) -> dict[str, Any]:
    return {
        "package": file.package,
        "imports": sorted(dep.name for dep in file.dependencies),
        "services": {
            service.name: {method.name: _method(method) for method in service.methods}
            for service in file.services_by_name.values()
        },
        "messages": {
            name: _message(message) for name, message in file.message_types_by_name.items()
        },
        "enums": {name: _enum(enum) for name, enum in file.enum_types_by_name.items()},
    }


def contract_snapshot() -> str:
    """Render the agentmail.v1 descriptors as stable, reviewable JSON text."""
    files = {module.DESCRIPTOR.name: _file(module.DESCRIPTOR) for module in FILES}
    return json.dumps(dict(sorted(files.items())), indent=2) + "\n"


def test_snapshot_covers_every_agentmail_v1_file() -> None:
    protos = sorted(
        path.name
        for path in (pathlib.Path(__file__).parents[2] / "protos" / "agentmail" / "v1").iterdir()
        if path.suffix == ".proto"
    )
    covered = sorted(pathlib.PurePath(module.DESCRIPTOR.name).name for module in FILES)
    assert covered == protos, "add the new proto's _pb2 module to FILES in this test"


def test_wire_contract_matches_snapshot() -> None:
    assert_matches_snapshot(
        SNAPSHOT,
        contract_snapshot(),
        changed="the agentmail.v1 wire contract changed (check that it is compatible: see "
        "`buf breaking`).",
    )
