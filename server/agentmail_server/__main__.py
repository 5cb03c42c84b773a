"""Entry point: ``agentmail-server`` / ``python -m agentmail_server``.

Order: configuration (``--print-config`` shows it and exits) -> logging -> event loop (uvloop
when enabled) -> serve until SIGTERM or SIGINT -> graceful stop.
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
from agentmail_server.logs import configure_logging

logger = logging.getLogger("agentmail_server")


async def serve(config: ServerConfig) -> None:
    """Run a server until SIGTERM or SIGINT, then stop it gracefully."""
    server = AgentmailServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("shutting down (grace %.1fs)", config.grace_seconds)
    await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse configuration and run the server; returns the process exit code."""
    resolved = resolve_config(argv)
    config = resolved.config
    if resolved.print_config:
        values = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
        origin = f" (config file {resolved.config_file})" if resolved.config_file else ""
        print(f"# effective agentmail-server settings{origin}")
        print(render_settings(values, resolved.sources))
        return 0
    listener = configure_logging(config.log_level)
    try:
        if config.uvloop:
            try:
                import uvloop  # noqa: PLC0415 - optional dependency
            except ImportError:
                logger.warning("uvloop is not installed; using asyncio's event loop")
            else:
                uvloop.run(serve(config))
                return 0
        asyncio.run(serve(config))
        return 0
    finally:
        listener.stop()


if __name__ == "__main__":
    sys.exit(main())
