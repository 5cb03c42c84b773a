"""Online backup of a data folder, and restoring one into an empty folder.

A backup is a folder laid out like a data folder: ``agentmail.sqlite3`` (a snapshot taken with
SQLite's online backup API), ``archive.git`` (a mirror of the git archive, when there is one)
and ``backup.json``, written last, which marks the backup complete and describes it; plus the
owner-only ``cursor.key`` and ``operator-tokens`` when the data folder has them.

**Beside a running server.** Backing up takes no lock: the server holds ``agentmail.lock`` for
as long as it runs, and readers never block its writer under WAL. The database is copied in one
step of the backup API, that is inside one read transaction, so the copy is the database as of
one commit, whatever the writer does meanwhile.

**Order.** The archive is copied *before* the database. The archive worker only ever archives
messages that are already committed, so the archive copied at time T1 holds nothing the
database did not hold at T1, and the database copied at T2 > T1 holds everything committed
before T2: the restored archive is never ahead of the restored database (it is behind by
what was sent between T1 and T2, which the restored server's archive worker catches up on).
The other order could restore an archive whose recorded position is past the database's
newest message, and the worker would then skip the next messages sent, which would reuse
those ids.

The archive is mirrored through pygit2's fetch (refs read first, then the objects they
reach), not by copying files: the archive worker merges and deletes pack files as it goes.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import shutil
import sqlite3
import time

import pygit2

from agentmail_server.archive import Position, archived_position
from agentmail_server.cursor_key import KEY_FILE
from agentmail_server.datalock import LOCK_FILE, DataFolderLock
from agentmail_server.storage.sqlite.connection import reader_uri

DATABASE = "agentmail.sqlite3"
ARCHIVE = "archive.git"
MANIFEST = "backup.json"
# The operator token hashes `agentmail-admin operator-token` keeps (ServerConfig's
# operator_tokens_path): without them a restored server would let no operator in.
OPERATOR_TOKENS = "operator-tokens"
# Owner-only files a backup carries beside the database, by manifest key.
SECRETS = (("cursor_key", KEY_FILE), ("operator_tokens", OPERATOR_TOKENS))
FORMAT = 1
# A fetch can meet a pack file the archive worker has just merged away; it is tried again.
FETCH_ATTEMPTS = 3


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why, in one line."""


@dataclasses.dataclass(frozen=True)
class BackupReport:
    """What a backup holds.

    Attributes:
        messages: messages in the database copy.
        last_message_id: the newest message id in the database copy (0 when none).
        archive_position: the archive copy's recorded position (None: no archive copied, or
            nothing archived yet).
        database_bytes: size of the database copy.
        seconds: how long the backup took.
    """

    messages: int
    last_message_id: int
    archive_position: Position | None
    database_bytes: int
    seconds: float


def _empty_or_absent(folder: pathlib.Path, what: str, ignore: tuple[str, ...] = ()) -> None:
    if folder.exists() and not folder.is_dir():
        raise BackupError(f"{what} {folder} is not a folder")
    if folder.exists() and any(entry.name not in ignore for entry in folder.iterdir()):
        raise BackupError(f"{what} {folder} is not empty")


def _fsync(path: pathlib.Path) -> None:
    """Flush a file, or a folder's entries, to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: pathlib.Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync(pathlib.Path(folder) / name)
        _fsync(pathlib.Path(folder))


def _copy_secret(source: pathlib.Path, target: pathlib.Path, name: str) -> str | None:
    """Copy the owner-only file ``name`` from ``source`` to ``target`` (0600, synced); its
    name for the manifest, or None when ``source`` has no such file."""
    if not (source / name).is_file():
        return None
    shutil.copyfile(source / name, target / name)
    os.chmod(target / name, 0o600)
    _fsync(target / name)
    return name


def _mirror_archive(source: pathlib.Path, target: pathlib.Path) -> None:
    """Copy every ref of the bare repository ``source`` (and the objects they reach) into a
    new bare repository ``target``, with the same HEAD."""
    last: Exception | None = None
    for _ in range(FETCH_ATTEMPTS):
        shutil.rmtree(target, ignore_errors=True)
        try:
            repo = pygit2.init_repository(str(target), bare=True)
            repo.remotes.create_anonymous(str(source.resolve())).fetch(["+refs/*:refs/*"])
            head = pygit2.Repository(str(source)).references["HEAD"].target
            if isinstance(head, str):  # symbolic: the branch the archive writes
                repo.references.create("HEAD", head, force=True)
            return
        except (pygit2.GitError, KeyError) as exc:
            last = exc
    raise BackupError(f"could not copy the archive {source}: {last}")


def _copy_database(source: pathlib.Path, target: pathlib.Path) -> tuple[int, int]:
    """Snapshot ``source`` into ``target`` and check it; returns (messages, newest id)."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    reader = sqlite3.connect(reader_uri(source), uri=True, isolation_level=None)
    try:
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            # One step (pages=-1): one read transaction, so one consistent commit's state.
            reader.backup(copy)
            # A self-contained file (no -wal beside it); the server turns WAL back on.
            copy.execute("PRAGMA journal_mode = DELETE")
            (check,) = copy.execute("PRAGMA integrity_check").fetchone()
            if check != "ok":
                raise BackupError(f"the database copy fails its integrity check: {check}")
            count, newest = copy.execute(
                "SELECT count(*), coalesce(max(id), 0) FROM messages"
            ).fetchone()
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise BackupError(f"could not copy the database {source}: {exc}") from exc
    finally:
        reader.close()
    _fsync(partial)
    partial.rename(target)
    return int(count), int(newest)


def backup(
    data_dir: pathlib.Path,
    archive: pathlib.Path | None,
    dest: pathlib.Path,
    archive_branch: str = "main",
) -> BackupReport:
    """Back up a data folder, running server or not, into the empty or absent folder ``dest``.

    Args:
        data_dir: the data folder.
        archive: the archive repository (None or absent: the backup has no archive).
        dest: the backup folder to create.
        archive_branch: the archive's branch, for the position reported.

    Raises:
        BackupError: ``dest`` is not empty, there is no database, or a copy failed (what
            was written into ``dest`` is removed).
    """
    started = time.monotonic()
    database = data_dir / DATABASE
    if not database.is_file():
        raise BackupError(f"no database at {database}")
    _empty_or_absent(dest, "backup folder")
    # Owner only: the copy holds everyone's mail and token hashes.
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        position = None
        has_archive = archive is not None and archive.is_dir()
        if has_archive:
            assert archive is not None
            _mirror_archive(archive, dest / ARCHIVE)  # first: see the module's docstring
            position = archived_position(dest / ARCHIVE, archive_branch)
            _fsync_tree(dest / ARCHIVE)
        messages, newest = _copy_database(database, dest / DATABASE)
        # The secret that seals cursors (without it, every saved cursor and page token of the
        # agents would be refused after a restore) and the operators' token hashes.
        secrets = {key: _copy_secret(data_dir, dest, name) for key, name in SECRETS}
        manifest = {
            "format": FORMAT,
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "database": DATABASE,
            "archive": ARCHIVE if has_archive else None,
            **secrets,
            "archive_branch": archive_branch,
            "messages": messages,
            "last_message_id": newest,
            "archived_message_id": position.message_id if position else None,
        }
        (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _fsync(dest / MANIFEST)
        _fsync(dest)
    except BaseException:
        for entry in (MANIFEST, DATABASE, DATABASE + ".partial", KEY_FILE, OPERATOR_TOKENS):
            (dest / entry).unlink(missing_ok=True)
        shutil.rmtree(dest / ARCHIVE, ignore_errors=True)
        raise
    return BackupReport(
        messages=messages,
        last_message_id=newest,
        archive_position=position,
        database_bytes=(dest / DATABASE).stat().st_size,
        seconds=time.monotonic() - started,
    )


def restore(
    source: pathlib.Path, data_dir: pathlib.Path, archive: pathlib.Path | None
) -> dict[str, object]:
    """Restore the backup ``source`` into ``data_dir``, which must be empty or absent.

    Holds the data folder's lock while restoring, so a server cannot start on the folder
    half-way; a folder a server holds is refused.

    Args:
        source: a complete backup (with its ``backup.json``).
        data_dir: the data folder to fill.
        archive: where the archive goes (None: the backup's archive is not restored).

    Returns:
        The backup's manifest.

    Raises:
        BackupError: the backup is incomplete, or the folder is in use or not empty.
    """
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(
            f"{source} is not a complete agentmail backup ({MANIFEST}: {exc})"
        ) from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unknown backup format {manifest.get('format')!r}")
    # Only a lock file may be there: it is left by any server that ran on the folder, and
    # whether someone holds it is checked by taking it.
    _empty_or_absent(data_dir, "data folder", ignore=(LOCK_FILE,))
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataFolderLock(data_dir)
    try:
        lock.acquire()
    except RuntimeError as exc:
        raise BackupError(str(exc)) from None
    try:
        _empty_or_absent(data_dir, "data folder", ignore=(LOCK_FILE,))  # checked again, locked
        copy_archive = archive is not None and bool(manifest.get("archive"))
        if copy_archive and archive is not None and archive.exists():
            raise BackupError(f"the archive {archive} already exists")
        target = data_dir / DATABASE
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source / manifest["database"], partial)
        _fsync(partial)
        partial.rename(target)
        for key, name in SECRETS:
            if manifest.get(key):  # absent from backups made before the file was carried
                _copy_secret(source, data_dir, name)
        if copy_archive and archive is not None:
            shutil.copytree(source / manifest["archive"], archive)
            _fsync_tree(archive)
        _fsync(data_dir)
    finally:
        lock.release()
    return dict(manifest)
