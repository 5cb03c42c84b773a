"""The bridge's settings (flags, then ``AGENTMAIL_*`` variables) and its two small files.

The token file holds the agent's token (owner-only, 0600); the cursor file holds where
``wait_for_mail`` stopped, so the next call (also after a restart) neither repeats nor skips.
Both are replaced atomically, so a crash never leaves half a file.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import re
import stat
import tempfile
from importlib import metadata

import platformdirs

DEFAULT_ADDRESS = "127.0.0.1:7070"


class ConfigError(Exception):
    """A setting is missing or a file is unsafe or unreadable."""


@dataclasses.dataclass(frozen=True)
class BridgeConfig:
    """The effective settings of one bridge process.

    Attributes:
        address: The agentmail server's gRPC address.
        project: The project slug the agent belongs to.
        agent: The agent's name (the one identity this bridge acts as).
        token_file: Where the agent's token is kept (0600).
        state_dir: Where the wait_for_mail cursor is kept.
    """

    address: str
    project: str
    agent: str
    token_file: pathlib.Path
    state_dir: pathlib.Path

    @property
    def cursor_file(self) -> pathlib.Path:
        """The cursor file of this agent: one per address, project and agent."""
        name = _safe(f"{self.address}__{self.project}__{self.agent}")
        return self.state_dir / f"{name}.cursor"


def _version() -> str:
    """The installed distribution's version, as every agentmail command says it."""
    try:
        return metadata.version("agentmail")
    except metadata.PackageNotFoundError:
        return "unknown"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def parse_args(argv: list[str] | None = None) -> BridgeConfig:
    """Reads flags, falling back to the variables the ``agentmail`` command line uses."""
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="agentmail-mcp",
        description="MCP server (stdio) giving one agent its agentmail inbox, mail and "
        "coordination tools, with a blocking wait_for_mail.",
    )
    parser.add_argument("--version", action="version", version=f"agentmail {_version()}")
    parser.add_argument(
        "--address",
        default=env.get("AGENTMAIL_ADDRESS", DEFAULT_ADDRESS),
        help="server address (AGENTMAIL_ADDRESS; default 127.0.0.1:7070)",
    )
    parser.add_argument(
        "--project",
        default=env.get("AGENTMAIL_PROJECT", ""),
        help="project slug (AGENTMAIL_PROJECT)",
    )
    parser.add_argument(
        "--agent", default=env.get("AGENTMAIL_AGENT", ""), help="agent name (AGENTMAIL_AGENT)"
    )
    parser.add_argument(
        "--token-file",
        default=env.get("AGENTMAIL_TOKEN_FILE", ""),
        help="file holding the agent's token, 0600 (AGENTMAIL_TOKEN_FILE; default: "
        "tokens/PROJECT__AGENT.token in the agentmail-mcp config folder)",
    )
    parser.add_argument(
        "--state-dir",
        default=env.get("AGENTMAIL_MCP_STATE_DIR", ""),
        help="folder of the wait_for_mail cursor (AGENTMAIL_MCP_STATE_DIR; default: the "
        "platform's state folder)",
    )
    args = parser.parse_args(argv)
    if not args.project or not args.agent:
        parser.error(
            "--project and --agent (or AGENTMAIL_PROJECT and AGENTMAIL_AGENT) are required"
        )
    token_file = (
        pathlib.Path(args.token_file)
        if args.token_file
        else pathlib.Path(platformdirs.user_config_dir("agentmail-mcp"))
        / "tokens"
        / f"{_safe(args.project)}__{_safe(args.agent)}.token"
    )
    state_dir = (
        pathlib.Path(args.state_dir)
        if args.state_dir
        else pathlib.Path(platformdirs.user_state_dir("agentmail-mcp"))
    )
    return BridgeConfig(args.address, args.project, args.agent, token_file, state_dir)


def read_token(path: pathlib.Path) -> str | None:
    """The token in ``path``, or ``None`` when there is none.

    Raises:
        ConfigError: The file is readable by others, or cannot be read.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"refusing the token file {path}: its permissions are {mode:04o}; a token must be "
            f"readable by its owner only (run: chmod 600 {path})"
        )
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as error:
        raise ConfigError(f"cannot read the token file {path}: {error}") from error


def write_private(path: pathlib.Path, text: str) -> None:
    """Writes ``text`` to ``path`` with permissions 0600, atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600, so the content is never readable by others, even briefly.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


def read_cursor(path: pathlib.Path) -> str | None:
    """The saved wait_for_mail cursor, or ``None`` when none was saved."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def clear_cursor(path: pathlib.Path) -> None:
    """Forgets the saved cursor (a reset)."""
    path.unlink(missing_ok=True)
