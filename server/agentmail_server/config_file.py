"""The server's TOML config file: reading it strictly, and showing effective settings as TOML.

Knows nothing of the settings themselves: :mod:`agentmail_server.config` passes the field
types in and coerces what comes out, so the one table of settings stays in one place.
"""

from __future__ import annotations

import difflib
import json
import pathlib
import tomllib
from collections.abc import Mapping


class ConfigFileError(ValueError):
    """The config file cannot be read, is not TOML, or holds an unknown or mistyped key."""


def _accepted(kind: object) -> tuple[tuple[type, ...], str]:
    """The TOML value types a field of this Python type accepts, and their name for errors."""
    if kind is bool:
        return (bool,), "a boolean (true or false)"
    if kind is int:
        return (int,), "an integer"
    if kind is float:
        return (int, float), "a number"
    return (str,), "a string"  # str, pathlib.Path and Literal choices of strings


def read_config_file(path: pathlib.Path, kinds: Mapping[str, object]) -> dict[str, object]:
    """The settings of a TOML config file, checked against the fields' Python types.

    Keys are the settings' field names at the top level of the file. TOML's own types are
    required (``read_pool_size = 4``, not ``"4"``): a file is written once by a person, and a
    type mistake there is better reported than guessed at. Numbers come back as the field's
    type (an integer for a float field becomes a float); strings come back as they are.

    Args:
        path: the file.
        kinds: each known field name -> its Python type.

    Raises:
        ConfigFileError: one line naming the file and the first problem.
    """
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ConfigFileError(f"config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {path}: not valid TOML: {exc}") from None
    values: dict[str, object] = {}
    for key, value in document.items():
        if key not in kinds:
            close = difflib.get_close_matches(key, sorted(kinds), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigFileError(f"config file {path}: unknown setting {key!r}{hint}")
        accepted, described = _accepted(kinds[key])
        # bool is an int in Python: `read_pool_size = true` must not pass as 1.
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            raise ConfigFileError(
                f"config file {path}: {key} must be {described}, "
                f"got {type(value).__name__} {value!r}"
            )
        values[key] = float(value) if isinstance(value, int) and kinds[key] is float else value
    return values


# Settings never shown (kept here rather than imported: config imports this module).
REDACTED_KEYS = frozenset({"enrollment_secret", "database_url"})


def render_settings(values: Mapping[str, object], sources: Mapping[str, str]) -> str:
    """Settings as TOML lines, each with where it came from as a comment.

    The output is itself a valid config file (paste it, then trim it to what you change).
    Secret settings that are set show as ``"<redacted>"``.
    """
    lines = []
    for key, value in values.items():
        if key in REDACTED_KEYS and value:
            text = json.dumps("<redacted>")
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = repr(value)
        else:
            text = json.dumps(str(value))  # a JSON string is a valid TOML basic string
        lines.append(f"{key} = {text}  # {sources[key]}")
    return "\n".join(lines)
