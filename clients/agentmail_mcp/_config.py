"""The bridge's settings (flags, then ``AGENTMAIL_*`` variables) and its two small files.

The server, project, agent, TLS and enrollment settings use the variables the ``agentmail``
command line reads, so one environment serves both; the bridge's own are ``AGENTMAIL_MCP_*``.

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
from collections.abc import Mapping
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
        tls_roots: PEM file of the CA to trust; ``""`` for plaintext unless another TLS
            setting is given.
        tls_client_cert: PEM client certificate (mTLS), or ``""``.
        tls_client_key: PEM key of ``tls_client_cert``, or ``""``.
        tls_server_name: The name to check the server's certificate against, or ``""``.
        enrollment_secret: The server's enrollment secret, sent only by ensure_project and
            register_agent; kept out of ``repr`` so it never reaches a log.
        channel: Claude Code channel mode: push a headline per new message.
        http: ``(host, port)`` to serve streamable HTTP on, or ``None`` for stdio.
    """

    address: str
    project: str
    agent: str
    token_file: pathlib.Path
    state_dir: pathlib.Path
    tls_roots: str = ""
    tls_client_cert: str = ""
    tls_client_key: str = ""
    tls_server_name: str = ""
    enrollment_secret: str = dataclasses.field(default="", repr=False)
    channel: bool = False
    http: tuple[str, int] | None = None

    @property
    def uses_tls(self) -> bool:
        """Whether to connect with TLS (any TLS setting given), as the ``agentmail`` command."""
        return bool(self.tls_roots or self.tls_client_cert or self.tls_server_name)

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


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _host_port(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a pair, for ``--http``."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT, such as 127.0.0.1:8765, not {value!r}"
        )
    return host, int(port)


def parse_args(argv: list[str] | None = None) -> BridgeConfig:
    """Reads flags, falling back to the variables the ``agentmail`` command line uses."""
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="agentmail-mcp",
        description="MCP server (stdio, or streamable HTTP) giving one agent its agentmail "
        "inbox, mail and coordination tools, with a blocking wait_for_mail.",
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
    _add_transport_arguments(parser, env)
    args = parser.parse_args(argv)
    if not args.project or not args.agent:
        parser.error(
            "--project and --agent (or AGENTMAIL_PROJECT and AGENTMAIL_AGENT) are required"
        )
    if bool(args.tls_client_cert) != bool(args.tls_client_key):
        parser.error("--tls-client-cert and --tls-client-key go together: give both or neither")
    # argparse applies ``type`` to a string default too, so this is a pair or None.
    http: tuple[str, int] | None = args.http
    if args.channel and http is not None:
        # Claude Code spawns a channel as its own stdio subprocess; over HTTP nobody listens.
        parser.error("--channel works over stdio only: drop --http (or AGENTMAIL_MCP_HTTP)")
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
    return BridgeConfig(
        args.address,
        args.project,
        args.agent,
        token_file,
        state_dir,
        tls_roots=args.tls_roots,
        tls_client_cert=args.tls_client_cert,
        tls_client_key=args.tls_client_key,
        tls_server_name=args.tls_server_name,
        # The server's own variable, never a flag (``ps`` shows flags), as for ``agentmail``.
        enrollment_secret=env.get("AGENTMAIL_ENROLLMENT_SECRET", ""),
        channel=args.channel,
        http=http,
    )


def _add_transport_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """TLS to the agentmail server, and how the bridge itself is reached."""
    parser.add_argument(
        "--tls-roots",
        default=env.get("AGENTMAIL_TLS_ROOTS", ""),
        help="PEM file of the CA to trust (AGENTMAIL_TLS_ROOTS); any TLS setting turns TLS on",
    )
    parser.add_argument(
        "--tls-client-cert",
        default=env.get("AGENTMAIL_TLS_CLIENT_CERT", ""),
        help="PEM client certificate, for mTLS (AGENTMAIL_TLS_CLIENT_CERT)",
    )
    parser.add_argument(
        "--tls-client-key",
        default=env.get("AGENTMAIL_TLS_CLIENT_KEY", ""),
        help="PEM key of --tls-client-cert (AGENTMAIL_TLS_CLIENT_KEY)",
    )
    parser.add_argument(
        "--tls-server-name",
        default=env.get("AGENTMAIL_TLS_SERVER_NAME", ""),
        help="name to check the server's certificate for (AGENTMAIL_TLS_SERVER_NAME)",
    )
    parser.add_argument(
        "--channel",
        action="store_true",
        default=_flag(env.get("AGENTMAIL_MCP_CHANNEL", "")),
        help="Claude Code channel mode: push each new message's headline (never its body) "
        "into the session (AGENTMAIL_MCP_CHANNEL=1; stdio only)",
    )
    parser.add_argument(
        "--http",
        metavar="HOST:PORT",
        type=_host_port,
        default=env.get("AGENTMAIL_MCP_HTTP") or None,
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (AGENTMAIL_MCP_HTTP)",
    )


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
