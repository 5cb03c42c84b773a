"""The data folder's operator token file: one SHA-256 hex digest per line, mode 0600.

``agentmail-admin operator-token`` mints a token, prints it once and appends only its hash
here; the server reads the hashes at start-up (restart it to add or remove an operator). A
file readable by others is refused, like an SSH key: the hashes are not secrets in the sense
that tokens are, but who may administer the server is not for every local user to change.
"""

from __future__ import annotations

import os
import pathlib
import stat

from agentmail_server.services.auth import hash_token, new_operator_token


class OperatorTokenFileError(Exception):
    """The operator token file is unsafe or unreadable."""


def read_hashes(path: pathlib.Path) -> tuple[str, ...]:
    """The digests in ``path``; none when it does not exist. Blocking: call at start-up.

    Raises:
        OperatorTokenFileError: group or others may access it, or a line is not a digest.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return ()
    if stat.S_IMODE(mode) & 0o077:
        raise OperatorTokenFileError(
            f"{path} must be readable by its owner only (chmod 600 {path})"
        )
    digests = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        digest = line.strip()
        if not digest or digest.startswith("#"):
            continue
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise OperatorTokenFileError(f"{path} line {number} is not a SHA-256 hex digest")
        digests.append(digest)
    return tuple(digests)


def mint(path: pathlib.Path) -> str:
    """A new operator token; only its hash is appended to ``path`` (created 0600)."""
    token = new_operator_token()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as file:
        file.write(hash_token(token) + "\n")
    os.chmod(path, 0o600)
    return token
