"""The git object writer: blobs and commits built with pygit2, and trees (see ``_trees``), in
the object database of a bare repository. No working tree, no index file, no ``git`` process.

Why objects are staged in memory and stored as one pack per commit: libgit2 writes each loose
object as its own file (a temporary file, a link, an unlink and a scan of the pack folder),
which measured 250-500 µs per object here with the GIL held, more than a whole send costs.
Instead the repository's object database has one custom backend: objects that pygit2 creates
for the commit being built stay in memory, older ones are read from disk. :meth:`GitStore.commit`
then stores the new objects as one pack (see ``_packs``), flushed to stable storage, and only
then moves the branch. A crash at any point leaves the branch on the previous commit; objects
of an unfinished commit are unreferenced and harmless (``git gc`` prunes them).

Trees are updated incrementally: only the folders on the paths that change are rewritten, each
from its entries in the parent commit.
"""

from __future__ import annotations

import hashlib
import logging
import pathlib
from collections.abc import Callable, Mapping

import pygit2

from agentmail_server.archive.git._lineage import Lineage
from agentmail_server.archive.git._merge import DeltaPackError, merge_packs
from agentmail_server.archive.git._packs import (
    MAX_PACKS,
    TEMPORARY_PREFIX,
    list_packs,
    packs_to_merge,
    remove_pack,
    write_pack,
)
from agentmail_server.archive.git._trees import TreeWriter

logger = logging.getLogger(__name__)

_TREE = int(pygit2.enums.ObjectType.TREE)
_BLOB = int(pygit2.enums.ObjectType.BLOB)


class _Staging(pygit2.OdbBackend):
    """Object-database backend: objects of the commit being built live in memory; every
    other object is read from the repository on disk."""

    def __init__(self, disk: pygit2.Repository) -> None:
        super().__init__()
        self.disk = disk
        self.objects: dict[bytes, tuple[int, bytes]] = {}

    def read_raw(self, raw: bytes) -> tuple[int, bytes]:
        found = self.objects.get(raw)
        if found is not None:
            return found
        kind, data = self.disk.odb.read(pygit2.Oid(raw=raw))
        return int(kind), data

    def read_cb(self, oid: pygit2.Oid) -> tuple[int, bytes]:
        return self.read_raw(oid.raw)

    def read_header_cb(self, oid: pygit2.Oid) -> tuple[int, int]:
        found = self.objects.get(oid.raw)
        if found is not None:
            return found[0], len(found[1])
        kind, size = self.disk.odb.read_header(oid)
        return int(kind), size

    def read_prefix_cb(self, prefix: str) -> tuple[int, bytes, pygit2.Oid]:
        raise KeyError(prefix)  # abbreviated ids are never used here

    def exists_cb(self, oid: pygit2.Oid) -> bool:
        # Staged objects only: libgit2 asks before every write, and a miss on disk costs a
        # scan of the pack folder. An object that is also on disk is then packed once more,
        # which git tolerates (it happens only when a crashed commit is redone).
        return oid.raw in self.objects

    def exists_prefix_cb(self, prefix: str) -> pygit2.Oid:
        raise KeyError(prefix)

    def refresh_cb(self) -> None:
        return None

    def write_cb(self, oid: pygit2.Oid, data: bytes, kind: int) -> None:
        self.objects[oid.raw] = (kind, data)

    def stage_tree(self, raw: bytes, content: bytes) -> None:
        self.objects[raw] = (_TREE, content)


def update_tree(
    repo: pygit2.Repository, base: pygit2.Oid | None, changes: Mapping[str, pygit2.Oid | None]
) -> pygit2.Oid:
    """The tree ``base`` of a plain repository with ``changes`` applied: ``{path: blob id}``
    adds or replaces a file, ``{path: None}`` removes one (for tools and tests)."""

    def read(raw: bytes) -> tuple[int, bytes]:
        kind, data = repo.odb.read(pygit2.Oid(raw=raw))
        return int(kind), data

    def write(raw: bytes, content: bytes) -> None:
        repo.odb.write(_TREE, content)

    writer = TreeWriter(read, write)
    raw = writer.update(
        base.raw if base is not None else None,
        {path: blob.raw if blob is not None else None for path, blob in changes.items()},
    )
    return pygit2.Oid(raw=raw)


class GitStore:
    """One branch of a bare repository, written commit by commit. Use from one thread.

    Args:
        path: the bare repository (created when ``create`` and absent or empty).
        branch: the branch to commit to, e.g. ``main``.
        author_name: author and committer name of the commits.
        author_email: author and committer email.
        create: whether to initialise a missing repository.

    Attributes:
        head: the branch's head commit (None while the branch has none).
        head_message: the head commit's message (None while the branch has none), where
            the caller may keep what it needs to resume after a restart.

    Raises:
        ValueError: the branch name or identity is not valid for git.
        RuntimeError: ``path`` is not a bare repository, or the branch's head is damaged.
    """

    def __init__(
        self,
        path: pathlib.Path,
        branch: str,
        author_name: str,
        author_email: str,
        *,
        create: bool = True,
    ) -> None:
        self.ref = self.check_names(branch, author_name, author_email)
        self._identity = (author_name, author_email)
        self.path = path
        # Packs that cannot be merged entry by entry (offset deltas from a `git gc`).
        self._unmergeable: set[str] = set()
        # Which trees are versions of the same folder, so that merges can delta them.
        self._lineage = Lineage()
        if create and (not path.exists() or not any(path.iterdir())):
            pygit2.init_repository(str(path), bare=True, initial_head=branch)
        self._disk = self._open_disk()
        self._clear_stale_lock()
        self._staging = _Staging(self._disk)
        self._repo = pygit2.Repository(str(path))
        odb = pygit2.Odb()
        odb.add_backend(self._staging, 1)
        self._repo.set_odb(odb)
        self._trees = TreeWriter(self._staging.read_raw, self._staging.stage_tree)
        self.head, tree, self.head_message = self._read_head()
        self._head_tree = tree.raw if tree is not None else None

    @staticmethod
    def check_names(branch: str, author_name: str, author_email: str) -> str:
        """Check the branch name and the identity without touching any repository.

        Returns:
            The branch's full reference name.

        Raises:
            ValueError: the branch name or identity is not valid for git.
        """
        ref = f"refs/heads/{branch}"
        if not pygit2.reference_is_valid_name(ref):
            raise ValueError(f"{branch!r} is not a valid git branch name")
        pygit2.Signature(author_name, author_email)  # raises ValueError when invalid
        return ref

    @property
    def pack_dir(self) -> pathlib.Path:
        """The folder of the repository's pack files."""
        return self.path / "objects" / "pack"

    def _open_disk(self) -> pygit2.Repository:
        try:
            disk = pygit2.Repository(str(self.path))
        except pygit2.GitError as exc:
            raise RuntimeError(f"{self.path} is not a git repository: {exc}") from exc
        if not disk.is_bare:
            raise RuntimeError(f"{self.path} must be a bare git repository")
        return disk

    def _clear_stale_lock(self) -> None:
        # The caller is this branch's only writer (it elects one before opening: the server's
        # data folder lock, or a database lock), so a lock or a half-written pack left behind
        # is a crash mid-commit.
        lock = self.path / (self.ref + ".lock")
        if lock.exists():
            logger.warning("removing stale git lock %s", lock)
            lock.unlink(missing_ok=True)
        for leftover in self.pack_dir.glob(TEMPORARY_PREFIX + "*"):
            leftover.unlink(missing_ok=True)

    def _read_head(self) -> tuple[pygit2.Oid | None, pygit2.Oid | None, str | None]:
        reference = self._disk.references.get(self.ref)
        if reference is None:
            return None, None, None
        try:
            commit = self._disk[reference.target]
            assert isinstance(commit, pygit2.Commit)
            tree = commit.tree  # reads the tree: a damaged head fails here, at start
        except (KeyError, pygit2.GitError, AssertionError) as exc:
            raise RuntimeError(
                f"the head of {self.ref} in {self.path} is damaged ({exc}); "
                "run `agentmail-archive rebuild`"
            ) from exc
        return commit.id, tree.id, commit.message

    def blob(self, data: bytes) -> pygit2.Oid:
        """Stage a blob for the next commit and return its id.

        Hashed and staged here rather than through libgit2's ``create_blob``, which hashes
        and then calls back into Python twice (exists, write) per blob: a tenth of the
        archive's CPU per message. The id is git's: SHA-1 of ``blob <size>\\0`` + content.
        """
        digest = hashlib.sha1(b"blob %d\x00" % len(data), usedforsecurity=False)
        digest.update(data)
        raw = digest.digest()
        self._staging.objects[raw] = (_BLOB, data)
        return pygit2.Oid(raw=raw)

    def commit(
        self,
        changes: Mapping[str, pygit2.Oid | None],
        message: str,
        before_publish: Callable[[], None] | None = None,
    ) -> pygit2.Oid | None:
        """Apply ``changes`` to the head's tree, commit, make it durable, move the branch.

        Args:
            changes: the new blob of each path (None removes the path).
            message: the commit message.
            before_publish: called once the commit's objects are durable, just before the
                branch moves; an exception from it leaves the branch where it was (a caller
                that may have lost the right to write checks it there).

        Returns:
            The new commit, or None when the tree did not change (nothing is written).
        """
        tree = self._trees.update(
            self._head_tree,
            {path: blob.raw if blob is not None else None for path, blob in changes.items()},
        )
        if tree == self._head_tree:
            self._trees.committed()  # the folders in memory are the head's; none changed
            self._staging.objects.clear()
            return None
        signature = pygit2.Signature(*self._identity)
        parents = [self.head] if self.head is not None else []
        commit = self._repo.create_commit(
            None, signature, signature, message, pygit2.Oid(raw=tree), parents
        )
        self._write_pack()
        if before_publish is not None:
            before_publish()
        # The branch moves only once the pack holding the commit is on stable storage.
        self._disk.references.create(self.ref, commit, force=True)
        for path, previous, current in self._trees.committed():
            self._lineage.record(path, previous, current)
        self.head, self._head_tree, self.head_message = commit, tree, message
        return commit

    def _write_pack(self) -> None:
        staged = self._staging.objects
        if staged:
            write_pack(self.pack_dir, [(oid, kind, data) for oid, (kind, data) in staged.items()])
            staged.clear()

    def discard(self) -> None:
        """Forget staged objects and folders in memory (after a failure)."""
        self._staging.objects.clear()
        self._trees.forget()

    def consolidate(self, max_packs: int | None = None) -> int:
        """Merge the smallest packs geometrically; returns how many packs were merged."""
        if self._gc_running():
            return 0
        if max_packs is None:
            max_packs = MAX_PACKS
        chosen = packs_to_merge(list_packs(self.pack_dir, self._unmergeable), max_packs)
        if not chosen:
            return 0
        try:
            result = merge_packs(self.pack_dir, chosen, self._lineage.plan)
        except DeltaPackError as exc:
            logger.info("leaving a delta-compressed pack as it is: %s", exc)
            self._unmergeable.add(exc.stem)
            return 0
        merged = result.pack
        if self._gc_running():
            return 0  # the merged pack duplicates the others until the next merge: harmless
        self._lineage.settled(result.settled)
        for pack in chosen:
            if pack.stem != merged.stem:  # same objects, same name: that file is the result
                remove_pack(pack)
        # A fresh handle: the old one still lists the removed packs.
        self._disk.free()
        self._disk = self._open_disk()
        self._staging.disk = self._disk
        return len(chosen)

    def _gc_running(self) -> bool:
        # `git gc` holds gc.pid while it runs; removing packs under it would make it fail.
        return (self.path / "gc.pid").exists()

    def pack_usage(self) -> tuple[int, int]:
        """How many pack files the repository has, and their size in bytes (indexes too)."""
        count = size = 0
        for path in self.pack_dir.glob("pack-*"):
            try:
                size += path.stat().st_size
            except FileNotFoundError:  # removed meanwhile by a merge or `git gc`
                continue
            count += path.suffix == ".idx"
        return count, size

    def close(self) -> None:
        """Release the repository's files."""
        self.discard()
        self._repo.free()
        self._disk.free()
