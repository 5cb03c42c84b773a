"""Entry point: ``agentmail-server`` / ``python -m agentmail_server``.

Order: configuration (``--print-config`` shows it and exits) -> logging -> event loop (uvloop
when enabled) -> serve until SIGTERM or SIGINT -> graceful stop. With ``--workers N`` (N > 1)
this process supervises N serving processes instead (see :mod:`.workers`).

A server that cannot start (a port taken, a data folder it cannot use, a database from a newer
version, ...) logs one line saying why and exits with status 1; a bad flag or environment value
is reported by the argument parser, which exits with status 2. Neither prints a traceback: the
operator needs the cause, not the call stack.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence

from agentmail_server.app import AgentmailServer
from agentmail_server.config import ServerConfig, resolve_config
from agentmail_server.config_file import render_settings
from agentmail_server.gc_tuning import tune_for_serving
from agentmail_server.logs import configure_logging
from agentmail_server.version import version_line
from agentmail_server.workers import supervise, worker_config, worker_index

logger = logging.getLogger("agentmail_server")

# Exit status of a server that could not start (argparse uses 2 for bad flags).
EXIT_START_FAILED = 1


class StartFailed(Exception):
    """The server could not start; the message says why, in one line."""


def _describe(exc: BaseException) -> str:
    """One line for the operator: the error's own message, with the file an OSError names."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())  # one line, whatever the message held


async def serve(config: ServerConfig, *, worker: bool = False) -> None:
    """Run a server until SIGTERM or SIGINT, then stop it gracefully (``worker``: as one of
    ``--workers``' processes).

    Raises:
        StartFailed: the server could not start (it has already cleaned up after itself).
    """
    server = AgentmailServer(config, worker=worker)
    try:
        await server.start()
    except Exception as exc:
        raise StartFailed(_describe(exc)) from exc
    tune_for_serving()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("shutting down (grace %.1fs)", config.grace_seconds)
    await server.stop()


def _run(config: ServerConfig, *, worker: bool = False) -> None:
    if config.uvloop:
        try:
            import uvloop  # noqa: PLC0415 - optional dependency
        except ImportError:
            logger.warning("uvloop is not installed; using asyncio's event loop")
        else:
            uvloop.run(serve(config, worker=worker))
            return
    asyncio.run(serve(config, worker=worker))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse configuration and run the server; returns the process exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if "--version" in args:
        print(version_line())
        return 0
    resolved = resolve_config(args)
    config = resolved.config
    if resolved.print_config:
        values = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
        origin = f" (config file {resolved.config_file})" if resolved.config_file else ""
        print(f"# effective agentmail-server settings{origin}")
        print(render_settings(values, resolved.sources))
        return 0
    listener = configure_logging(config.log_level)
    index = worker_index()
    if config.workers > 1 and index is None:
        try:
            return supervise(config, args)
        except (RuntimeError, OSError) as exc:  # the data folder or its cursor key
            logger.error("could not start: %s", _describe(exc))
            return EXIT_START_FAILED
        finally:
            listener.stop()
    if index is not None:
        config = worker_config(config, index)
    try:
        _run(config, worker=index is not None)
    except StartFailed as exc:
        logger.error("could not start: %s", exc)
        return EXIT_START_FAILED
    finally:
        listener.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
