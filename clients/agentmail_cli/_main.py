"""The entry point: every command module registered on the app, errors turned into exit codes."""

from __future__ import annotations

import sys

from . import (
    _agents,
    _coordination,
    _guard,
    _hooks,
    _lifecycle,
    _mail,
    _obligations,
    _reading,
    _stats,
    _tail,
)
from ._app import app
from ._exits import CliError, ExitCode, report

# Imported for the commands they register on the app.
COMMAND_MODULES = (
    _agents,
    _mail,
    _reading,
    _coordination,
    _obligations,
    _lifecycle,
    _tail,
    _stats,
    _guard,
    _hooks,
)


def _wants_json(argv: list[str]) -> bool:
    # Errors are reported before (or without) a command's own parsing: look for the flag.
    return "--json" in argv


def main() -> None:
    """Runs the ``agentmail`` command line; exits with the status of ``agentmail --help``."""
    try:
        app()
    except CliError as error:
        report(error, as_json=_wants_json(sys.argv[1:]))
        sys.exit(int(error.code))
    except KeyboardInterrupt:
        sys.stderr.write("agentmail: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
