"""The cursor key: the secret that seals page tokens and inbox cursors, kept in the data folder.

Cursors must outlive the process (a subscriber saves its cursor and resumes after a restart)
and a backup and restore of the data folder, so the key is a file in the data folder,
``cursor.key``: 64 random bytes as 128 hex digits and a newline, created with mode 0600 on
first start. Back it up with the database; losing it only invalidates saved cursors (callers
get INVALID_PAGE_TOKEN and start over), it loses no mail.

Start-up fails with a clear message, rather than quietly making a new key, when the file
exists but cannot be read or is not a key: a new key would silently invalidate every saved
cursor. Delete the file to accept that.
"""

from __future__ import annotations

import logging
import os
import pathlib
import stat

from agentmail_server.domain import cursors

KEY_FILE = "cursor.key"

logger = logging.getLogger(__name__)


def load_or_create(data_dir: pathlib.Path, database: pathlib.Path) -> bytes:
    """The data folder's cursor key, created on first use. Blocking: run it in a thread.

    Call it while holding the data folder lock, so that no other server creates it at once.

    Args:
        data_dir: The data folder.
        database: The database file; when it exists already a new key is logged as a warning.

    Raises:
        RuntimeError: the key file exists but cannot be read or is corrupt.
    """
    path = data_dir / KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    key = cursors.new_key()
    _create(path, key)
    if database.exists():
        logger.warning(
            "created a new cursor key %s for an existing data folder: cursors and page tokens "
            "saved before are no longer accepted",
            path,
        )
    else:
        logger.info("created the cursor key %s", path)
    return key


def _read(path: pathlib.Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise RuntimeError(f"could not read the cursor key {path}: {exc}") from exc
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != cursors.KEY_BYTES:
        raise RuntimeError(
            f"the cursor key {path} is corrupt (expected {2 * cursors.KEY_BYTES} hex digits): "
            "restore it from the backup of this data folder, or delete it to start with a new "
            "key (saved cursors and page tokens then stop working)"
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "the cursor key %s is accessible to other users (mode %o); chmod 600 it",
            path,
            stat.S_IMODE(mode),
        )
    return key


def _create(path: pathlib.Path, key: bytes) -> None:
    # Written in full under a temporary name, then linked into place: a crash never leaves
    # a half-written key behind, and O_EXCL with mode 0600 means it is never readable by others.
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, (key.hex() + "\n").encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
