"""What each error becomes on the wire, and back, matches its reviewed snapshot.

Three tables, rendered from the code that does the mapping: the server's exception classes
(``agentmail_server.errors``) to the status code ``rpc.status`` sends for them, every gRPC status
code to the exception class ``agentmail_client`` raises for it, and the two composed (what a
client catches when the server raises each error). Any change fails the test until the snapshot
is rewritten on purpose: ``AGENTMAIL_UPDATE_SNAPSHOTS=1 pytest tests/contract`` rewrites it and
still fails; review the diff of ``tests/contract/snapshots/error_statuses.json`` (clients
branch on these classes and codes) and run the tests again.
"""

from __future__ import annotations

import json
import pathlib

import agentmail_client
import grpc
from agentmail_client import _errors as client_errors
from agentmail_server import errors
from agentmail_server.rpc import status

from ._snapshot import assert_matches_snapshot

SNAPSHOT = pathlib.Path(__file__).parent / "snapshots" / "error_statuses.json"
UNEXPECTED = "any other exception (a bug)"


def _server_errors() -> list[type[errors.AgentmailError]]:
    """Every exception class of the server's one exception tree, by name."""
    found = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.AgentmailError)
    ]
    return sorted(found, key=lambda cls: cls.__name__)


def _example(cls: type[errors.AgentmailError]) -> errors.AgentmailError:
    if issubclass(cls, errors.InvalidArgument):
        return cls([errors.FieldViolation("field", "is wrong")])
    return cls("REASON", "message")


def _server_code(cls: type[errors.AgentmailError]) -> grpc.StatusCode:
    """The code of the status the server sends for an error of class ``cls``."""
    sent = status.to_status(_example(cls))
    assert sent.code == status.status_code_for(_example(cls)), cls
    return sent.code


def _client_name(cls: type[client_errors.AgentmailError]) -> str:
    assert getattr(agentmail_client, cls.__name__, None) is cls, (
        f"{cls.__qualname__} is raised by the client but not exported by agentmail_client"
    )
    return f"agentmail_client.{cls.__name__}"


def error_status_snapshot() -> str:
    """Render the three tables as stable, reviewable JSON text."""
    codes = [code for code in grpc.StatusCode if code is not grpc.StatusCode.OK]
    server = {
        f"{cls.__module__}.{cls.__name__}": _server_code(cls).name for cls in _server_errors()
    }
    server[UNEXPECTED] = status.internal_status("request-id").code.name
    client = {code.name: _client_name(client_errors.error_class_for(code)) for code in codes}
    round_trip = {
        f"{cls.__module__}.{cls.__name__}": _client_name(
            client_errors.error_class_for(_server_code(cls))
        )
        for cls in _server_errors()
    }
    round_trip[UNEXPECTED] = _client_name(client_errors.error_class_for(grpc.StatusCode.INTERNAL))
    tables = {
        "server: exception -> status code": server,
        "client: status code -> exception": client,
        "server exception -> client exception": round_trip,
    }
    return json.dumps(tables, indent=2) + "\n"


def test_error_statuses_match_snapshot() -> None:
    assert_matches_snapshot(
        SNAPSHOT,
        error_status_snapshot(),
        changed="the mapping between errors and gRPC status codes changed: clients branch on "
        "these codes and exception classes, so check that the change is compatible.",
    )


def test_snapshot_covers_every_mapped_error_and_every_status_code() -> None:
    tables = json.loads(error_status_snapshot())
    server = tables["server: exception -> status code"]
    mapped = {f"{cls.__module__}.{cls.__name__}" for cls in status.STATUS_BY_ERROR}
    assert mapped | {"agentmail_server.errors.AgentmailError", UNEXPECTED} == set(server)
    client = tables["client: status code -> exception"]
    assert len(client) == len(grpc.StatusCode) - 1 == 16
