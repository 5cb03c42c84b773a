"""The ``--version`` line every console command prints, read from the installed package."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "agentmail"


def version_line() -> str:
    """``agentmail <version>``, from the installed distribution's metadata.

    Read from the metadata rather than a constant so that it is the version actually
    installed (pyproject.toml is its one source).
    """
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown"
    return f"{DISTRIBUTION} {version}"
