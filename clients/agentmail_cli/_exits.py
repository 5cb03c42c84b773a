"""Exit codes, and the one place an error becomes a message and a code.

The codes are a contract with scripts and hooks, so they are listed in ``agentmail --help``.
"""

from __future__ import annotations

import enum
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentmail_client import AgentmailError


class ExitCode(enum.IntEnum):
    """What the process's exit status means."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    CONFLICT = 5
    UNAVAILABLE = 6
    INTERRUPTED = 130


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 other failure (and `guard check`: commit refused); "
    "2 usage error or invalid argument; 3 not found; "
    "4 authentication or permission (incl. a token file readable by others); "
    "5 conflict (a reservation refused, a name taken, a state that forbids it); "
    "6 server unavailable, overloaded or too slow; 130 interrupted."
)


class CliError(Exception):
    """A failure the command reports with its own message and exit code.

    Attributes:
        message: What went wrong, for a person.
        code: The exit code.
        reason: A stable UPPER_SNAKE reason (the server's, when it came from the server).
        details: Further fields for ``--json`` output.
    """

    def __init__(
        self,
        message: str,
        code: ExitCode,
        *,
        reason: str = "",
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.details = details or {}


def exit_code_for(error: AgentmailError) -> ExitCode:
    """The exit code of a failed call."""
    import agentmail_client as am  # noqa: PLC0415 - loaded by then: the call failed

    table: tuple[tuple[type[am.AgentmailError], ExitCode], ...] = (
        (am.InvalidArgument, ExitCode.USAGE),
        (am.NotFound, ExitCode.NOT_FOUND),
        (am.Unauthenticated, ExitCode.AUTH),
        (am.PermissionDenied, ExitCode.AUTH),
        (am.AlreadyExists, ExitCode.CONFLICT),
        (am.FailedPrecondition, ExitCode.CONFLICT),
        (am.Unavailable, ExitCode.UNAVAILABLE),
        (am.ResourceExhausted, ExitCode.UNAVAILABLE),
        (am.DeadlineExceeded, ExitCode.UNAVAILABLE),
    )
    for kind, code in table:
        if isinstance(error, kind):
            return code
    return ExitCode.FAILURE


def from_rpc(error: AgentmailError) -> CliError:
    """The report of a failed call: the server's reason and message, its metadata and fields."""
    details: dict[str, object] = {"status": error.code.name}
    if error.metadata:
        details["metadata"] = dict(error.metadata)
    if error.field_violations:
        details["fieldViolations"] = [
            {"field": v.field, "description": v.description} for v in error.field_violations
        ]
    if error.retry_after is not None:
        details["retryAfterSeconds"] = error.retry_after
    message = error.message or error.code.name
    # The server's message often names the violation already: say each thing once.
    extras = [f"{v.field}: {v.description}" for v in error.field_violations]
    extras = [extra for extra in extras if extra not in message]
    extras += [f"{key}={value}" for key, value in sorted(error.metadata.items())]
    if extras:
        message = f"{message} ({'; '.join(extras)})"
    return CliError(
        message, exit_code_for(error), reason=error.reason or error.code.name, details=details
    )


def report(error: CliError, *, as_json: bool) -> None:
    """Prints ``error`` on stderr: one JSON object with ``--json``, else one line."""
    if as_json:
        body: dict[str, object] = {
            "error": {
                "message": error.message,
                "reason": error.reason,
                "exitCode": int(error.code),
                **error.details,
            }
        }
        sys.stderr.write(json.dumps(body, ensure_ascii=False) + "\n")
        return
    label = f"[{error.reason}] " if error.reason else ""
    sys.stderr.write(f"agentmail: error: {label}{error.message}\n")
