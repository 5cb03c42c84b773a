"""Where the command finds its server, project, agent and token: flags, environment, file.

Precedence, per setting: a flag, then its ``AGENTMAIL_*`` variable (Typer reads both, see
``_app.py``), then the profile's table in the TOML config file, then the default. The file
lives in the platform's config folder (``$XDG_CONFIG_HOME/agentmail/config.toml`` on Linux)::

    default_profile = "alice"

    [profiles.alice]
    address = "127.0.0.1:7070"
    project = "srv-repo"
    agent = "Alice"

The token is never in the config file: it lives in a file of its own (by default
``tokens/PROFILE.token`` beside the config file), which must be readable by its owner only.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import stat
import tempfile
import tomllib
from typing import Any

DEFAULT_ADDRESS = "127.0.0.1:7070"
DEFAULT_METRICS_URL = "http://127.0.0.1:9464/metrics"
DEFAULT_PROFILE = "default"
_APP = "agentmail"

# Keys a profile table may hold, besides which no key is accepted (a typo should say so).
PROFILE_KEYS = (
    "address",
    "project",
    "agent",
    "token_file",
    "tls_roots",
    "tls_client_cert",
    "tls_client_key",
    "tls_server_name",
    "metrics_url",
)


class ConfigError(Exception):
    """The config file cannot be read or holds something it should not (a usage error)."""


class TokenError(Exception):
    """The token file is missing, unsafe or unreadable (an authentication problem)."""


@dataclasses.dataclass(frozen=True)
class Overrides:
    """Settings given as flags or environment variables; ``None`` where neither gave one."""

    profile: str | None = None
    address: str | None = None
    project: str | None = None
    agent: str | None = None
    token_file: str | None = None
    tls_roots: str | None = None
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    tls_server_name: str | None = None
    metrics_url: str | None = None


@dataclasses.dataclass(frozen=True)
class Profile:
    """The effective settings of one invocation.

    Attributes:
        name: The profile's name (``default`` unless chosen).
        address: The server's gRPC address.
        project: The project's slug, or ``""`` when none is configured.
        agent: The agent's name, or ``""`` when none is configured.
        token_file: Where the agent's token is kept.
        tls_roots: PEM file of the CA the server's certificate chains to; ``""`` for plaintext
            unless a client certificate is given.
        tls_client_cert: PEM file of the client certificate (mTLS), or ``""``.
        tls_client_key: PEM file of its key, or ``""``.
        tls_server_name: The name to check the server's certificate against, or ``""``.
        metrics_url: The server's Prometheus endpoint, for ``agentmail stats``.
        in_file: Whether the config file has a table for this profile.
    """

    name: str
    address: str
    project: str
    agent: str
    token_file: pathlib.Path
    tls_roots: str = ""
    tls_client_cert: str = ""
    tls_client_key: str = ""
    tls_server_name: str = ""
    metrics_url: str = DEFAULT_METRICS_URL
    in_file: bool = False

    @property
    def uses_tls(self) -> bool:
        """Whether to connect with TLS (any TLS setting given)."""
        return bool(self.tls_roots or self.tls_client_cert or self.tls_server_name)


def config_dir() -> pathlib.Path:
    """The folder of the config file and tokens (honours ``XDG_CONFIG_HOME`` on Linux)."""
    import platformdirs  # noqa: PLC0415 - only commands that need a profile pay for it

    return platformdirs.user_config_path(_APP)


def state_dir() -> pathlib.Path:
    """The folder of what the command remembers, such as ``tail`` cursors
    (honours ``XDG_STATE_HOME`` on Linux)."""
    import platformdirs  # noqa: PLC0415

    return platformdirs.user_state_path(_APP)


def config_file() -> pathlib.Path:
    """The TOML config file's path (it need not exist)."""
    return config_dir() / "config.toml"


def _read_file(path: pathlib.Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _profile_table(data: dict[str, Any], name: str, path: pathlib.Path) -> dict[str, str] | None:
    unknown = sorted(set(data) - {"default_profile", "profiles"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r} (expected default_profile, profiles)"
        )
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    table = profiles.get(name)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: profiles.{name} must be a table")
    for key, value in table.items():
        if key not in PROFILE_KEYS:
            raise ConfigError(
                f"{path}: profiles.{name}: unknown key {key!r} (one of {', '.join(PROFILE_KEYS)})"
            )
        if not isinstance(value, str):
            raise ConfigError(f"{path}: profiles.{name}.{key} must be a string")
    return table


def resolve(overrides: Overrides) -> Profile:
    """The effective profile: overrides first, then the config file, then defaults.

    Raises:
        ConfigError: The config file is unreadable or malformed.
    """
    path = config_file()
    data = _read_file(path)
    default = data.get("default_profile", DEFAULT_PROFILE)
    if not isinstance(default, str):
        raise ConfigError(f"{path}: default_profile must be a string")
    name = overrides.profile or default
    table = _profile_table(data, name, path)
    found = table or {}

    def pick(key: str, fallback: str = "") -> str:
        given = getattr(overrides, key)
        return str(given) if given is not None else found.get(key, fallback)

    token_file = pick("token_file")
    return Profile(
        name=name,
        address=pick("address", DEFAULT_ADDRESS),
        project=pick("project"),
        agent=pick("agent"),
        token_file=(
            pathlib.Path(token_file).expanduser()
            if token_file
            else config_dir() / "tokens" / f"{name}.token"
        ),
        tls_roots=pick("tls_roots"),
        tls_client_cert=pick("tls_client_cert"),
        tls_client_key=pick("tls_client_key"),
        tls_server_name=pick("tls_server_name"),
        metrics_url=pick("metrics_url", DEFAULT_METRICS_URL),
        in_file=table is not None,
    )


def _escape(char: str) -> str:
    if char in ('"', "\\"):
        return "\\" + char
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def quote(value: str) -> str:
    """``value`` as a TOML basic string (every escape used here is TOML's)."""
    return '"' + "".join(_escape(char) for char in value) + '"'


def remember_profile(profile: Profile) -> pathlib.Path | None:
    """Appends a ``[profiles.NAME]`` table for ``profile`` unless the file has one already.

    Appending (never rewriting) keeps the user's comments and layout; a profile already in the
    file is the user's to edit. Returns the file written, or ``None`` when left alone.
    """
    if profile.in_file:
        return None
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"\n[profiles.{quote(profile.name)}]"]
    lines += [
        f"{key} = {quote(value)}"
        for key, value in (
            ("address", profile.address),
            ("project", profile.project),
            ("agent", profile.agent),
        )
        if value
    ]
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def read_token(path: pathlib.Path) -> str | None:
    """The token kept in ``path``, or ``None`` when there is no such file.

    Raises:
        TokenError: The file is readable by others than its owner, or unreadable.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TokenError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise TokenError(
            f"refusing the token file {path}: its permissions are {mode:04o}, and a token must be "
            f"readable by its owner only (run: chmod 600 {path})"
        )
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
    return token or None


def write_token(path: pathlib.Path, token: str) -> None:
    """Stores ``token`` in ``path`` with permissions 0600, atomically (never half written)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600, so the token is never readable by others, even briefly.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise
