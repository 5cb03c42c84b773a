"""Incremental trees: a commit rewrites only the folders on the paths it changes, and each of
those from the entries it had in the parent commit, kept in memory.

Why not libgit2's tree builder: it copies every entry of a folder into a hash table, sorts
them all again and serialises them, for each folder on each commit; a month's folder of
messages grows all month, and that was the largest cost of archiving under load. Here a folder
written by the previous commit is still parsed in memory (its entries by sort key, in git's
order), new entries are merged into the order (a merge of two sorted runs), and the tree
object is the concatenation of the entries. The object format is git's: ``<mode> <name>\\0``
and the 20-byte id per entry, sorted by name with folder names compared as if they ended in
``/``; ``git fsck --strict`` checks it in the tests.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TypeAlias

TREE_MODE = b"40000"
BLOB_MODE = b"100644"
_OID_BYTES = 20

# Folders kept in memory beyond those the last commit changed: at most this many, holding at
# most this many bytes of tree content (their parsed entries take about twice that again).
KEEP_FOLDERS = 4096
KEEP_BYTES = 16 * 1024 * 1024
# Reads an object's type and content by raw id; stores a tree's content under its raw id.
Reader: TypeAlias = Callable[[bytes], tuple[int, bytes]]
Writer: TypeAlias = Callable[[bytes, bytes], None]
# A folder's pending changes: file names map to a raw blob id (or None to remove the entry),
# folder names to their own changes.
Changes: TypeAlias = dict[str, "Changes | bytes | None"]


# One tree entry (an octal mode, a space, a name, a NUL, a 20-byte id), and its mode and name.
_ENTRY = re.compile(rb"[0-7]+ [^\x00]*\x00.{20}", re.DOTALL)
_NAMES = re.compile(rb"([0-7]+) ([^\x00]*)\x00.{20}", re.DOTALL)


def tree_id(content: bytes) -> bytes:
    """The raw object id git gives a tree with this content."""
    digest = hashlib.sha1(b"tree %d\x00" % len(content), usedforsecurity=False)
    digest.update(content)
    return digest.digest()


class _Folder:
    """One tree's entries: sort key (the name, plus '/' for a folder) -> serialised entry.

    The last serialisation is kept: when a commit only adds entries that sort after all the
    existing ones (new messages in a month's folder, by their time-stamped names), the new
    content is the old one with the new entries appended, with no pass over the old entries.
    The entries are also kept in order in a list beside their keys, so a commit that adds
    entries in the middle (a thread per message in ``threads/``: ``"10"`` sorts before
    ``"9"``) splices them in and joins the list, rather than looking every key up again.
    """

    __slots__ = ("content", "dirty", "entries", "fresh", "keys", "values")

    def __init__(self, keys: list[bytes], values: list[bytes], content: bytes) -> None:
        self.entries = dict(zip(keys, values, strict=True))
        self.keys = keys  # sorted: the keys as of ``content``
        self.values = values  # the entries of ``keys``, in the same order
        self.content = content  # the serialisation of ``values``, unless ``dirty``
        self.fresh: list[bytes] = []  # keys added since the last serialisation
        self.dirty = False  # an entry was replaced or removed: join ``values`` again

    @classmethod
    def parse(cls, content: bytes) -> _Folder:
        values: list[bytes] = _ENTRY.findall(content)
        if sum(map(len, values)) != len(content):
            raise ValueError("not a git tree")
        keys = [
            name + b"/" if mode == TREE_MODE else name for mode, name in _NAMES.findall(content)
        ]
        return cls(keys, values, content)

    def subtree(self, name: bytes) -> bytes | None:
        entry = self.entries.get(name + b"/")
        return entry[-_OID_BYTES:] if entry is not None else None

    def put(self, name: bytes, mode: bytes, oid: bytes) -> None:
        key = name + b"/" if mode == TREE_MODE else name
        entry = mode + b" " + name + b"\x00" + oid
        previous = self.entries.get(key)
        if previous is None:
            # A file replacing a folder of the same name or the reverse (rare): look before
            # calling remove, which would try two keys for every new entry.
            other = name if mode == TREE_MODE else name + b"/"
            if other in self.entries:
                self.remove(other)
            self.fresh.append(key)
        elif previous != entry:
            at = self._position(key)
            if at is not None:  # else it is fresh: serialise reads it from ``entries``
                self.values[at] = entry
                self.dirty = True
        self.entries[key] = entry

    def _position(self, key: bytes) -> int | None:
        at = bisect.bisect_left(self.keys, key)
        return at if at < len(self.keys) and self.keys[at] == key else None

    def remove(self, name: bytes) -> None:
        for key in (name, name + b"/"):
            if self.entries.pop(key, None) is not None:
                at = self._position(key)
                if at is None:
                    self.fresh.remove(key)
                else:
                    del self.keys[at]
                    del self.values[at]
                    self.dirty = True

    def serialise(self) -> bytes:
        fresh = self.fresh
        if fresh:
            fresh.sort()
            added = [self.entries[key] for key in fresh]
            keys, values = self.keys, self.values
            if not keys or fresh[0] > keys[-1]:
                keys += fresh
                values += added
                if not self.dirty:
                    self.content += b"".join(added)
            else:
                self._splice(fresh, added)
            self.fresh = []
        if self.dirty:
            self.content = b"".join(self.values)
            self.dirty = False
        return self.content

    def _splice(self, fresh: list[bytes], added: list[bytes]) -> None:
        """Merge sorted new keys (and their entries) into the sorted old ones."""
        keys, values = self.keys, self.values
        merged_keys: list[bytes] = []
        merged_values: list[bytes] = []
        done = 0
        for key, entry in zip(fresh, added, strict=True):
            at = bisect.bisect_left(keys, key, done)
            if at > done:
                merged_keys += keys[done:at]
                merged_values += values[done:at]
                done = at
            merged_keys.append(key)
            merged_values.append(entry)
        merged_keys += keys[done:]
        merged_values += values[done:]
        self.keys, self.values = merged_keys, merged_values
        self.dirty = True


class TreeWriter:
    """Applies path changes to trees, keeping the folders it wrote for the next commits.

    Args:
        read: reads objects (a folder not in memory is parsed from its tree object).
        write: stores a new tree object.
    """

    def __init__(self, read: Reader, write: Writer) -> None:
        self._read = read
        self._write = write
        self._folders: dict[bytes, _Folder] = {}
        self._touched: dict[bytes, _Folder] = {}
        self._versions: list[tuple[str, bytes | None, bytes]] = []
        # Folders of this update by base tree: their changes and the tree they became.
        self._done: dict[bytes, tuple[Changes, bytes | None]] = {}

    def update(self, base: bytes | None, changes: Mapping[str, bytes | None]) -> bytes:
        """The raw id of tree ``base`` with ``changes`` applied (``{path: raw blob id}`` adds
        or replaces a file, ``{path: None}`` removes one)."""
        nested: Changes = {}
        # Paths share their folders, so each folder's node is found once.
        nodes: dict[str, Changes] = {"": nested}
        for path, blob in changes.items():
            folder, _, name = path.rpartition("/")
            node = nodes.get(folder)
            if node is None:
                node = nested
                for part in folder.split("/"):
                    child = node.setdefault(part, {})
                    if not isinstance(child, dict):
                        raise ValueError(f"{path}: a file is in the way")
                    node = child
                nodes[folder] = node
            node[name] = blob
        self._touched = {}
        self._versions = []
        self._done = {}
        root = self._apply(base, nested, "")
        self._done = {}
        if root is None:  # everything was removed: the empty tree
            root = tree_id(b"")
            self._write(root, b"")
        return root

    def _folder(self, oid: bytes | None) -> _Folder:
        if oid is None:
            return _Folder([], [], b"")
        folder = self._folders.pop(oid, None)
        if folder is None:
            kind, content = self._read(oid)
            if kind != 2:
                raise ValueError(f"{oid.hex()} is not a tree")
            folder = _Folder.parse(content)
        return folder

    def _apply(self, base: bytes | None, changes: Changes, path: str) -> bytes | None:
        # Two folders with the same content given the same changes: the second is the first's
        # result. Common: when every message goes to one agent, its inbox's month and the
        # project's month of messages are one tree, and the second would be parsed again
        # from disk (the first took the folder in memory), at a cost that grows all month.
        if base is not None:
            done = self._done.get(base)
            if done is not None and done[0] == changes:
                oid = done[1]
                if oid is not None and oid != base:
                    self._versions.append((path, base, oid))
                return oid
        elif not any(isinstance(change, dict) for change in changes.values()):
            return self._new_files(changes)
        folder = self._folder(base)
        for name, change in changes.items():
            encoded = name.encode()
            if isinstance(change, dict):
                written = self._apply(folder.subtree(encoded), change, f"{path}{name}/")
                if written is None:
                    folder.remove(encoded)
                else:
                    folder.put(encoded, TREE_MODE, written)
            elif change is None:
                folder.remove(encoded)
            else:
                folder.put(encoded, BLOB_MODE, change)
        if not folder.entries:
            if base is not None:
                self._done[base] = (changes, None)
            return None
        content = folder.serialise()
        oid = tree_id(content)
        if oid != base:
            self._write(oid, content)
            if base is not None:  # a new folder's first version is learnt when it changes
                self._versions.append((path, base, oid))
        self._touched[oid] = folder
        if base is not None:
            self._done[base] = (changes, oid)
        return oid

    def _new_files(self, changes: Changes) -> bytes | None:
        """A new folder of files only (the folder of each new thread: one per message when
        messages start threads), written without keeping it in memory: few are changed
        again before they are read back, and that read is cheap for a small folder."""
        entries = sorted(
            (name.encode(), change) for name, change in changes.items() if isinstance(change, bytes)
        )
        if not entries:
            return None
        content = b"".join([BLOB_MODE + b" " + name + b"\x00" + oid for name, oid in entries])
        oid = tree_id(content)
        self._write(oid, content)
        return oid

    def committed(self) -> list[tuple[str, bytes | None, bytes]]:
        """The last update was committed: keep its folders for the next ones, with the most
        recent of those kept before that the update did not use (up to :data:`KEEP_FOLDERS`
        of them and :data:`KEEP_BYTES` of content).

        Why keep more than the last commit's: an agent's folders (``agents/<name>/``, its
        outbox and the outbox's year and month) are touched only by commits that carry a
        message of theirs, and reading and parsing them again from the packs was a visible
        share of a commit when many agents send.

        Returns:
            ``(path, previous tree, new tree)`` of each folder the update changed (the path
            ends with '/'; the root's is empty), for :class:`~._lineage.Lineage`.
        """
        touched = self._touched
        earlier: list[tuple[bytes, _Folder]] = []
        budget = KEEP_BYTES
        # Folders still here were not used by this update (used ones were taken out).
        for oid, folder in reversed(self._folders.items()):
            if len(earlier) >= KEEP_FOLDERS:
                break
            if oid in touched or len(folder.content) > budget:
                continue
            budget -= len(folder.content)
            earlier.append((oid, folder))
        earlier.reverse()  # least recently used first, so that they go first next time
        self._folders = dict(earlier)
        self._folders.update(touched)
        self._touched = {}
        versions, self._versions = self._versions, []
        return versions

    def forget(self) -> None:
        """Drop everything in memory (after a failure, folders may hold uncommitted entries)."""
        self._folders = {}
        self._touched = {}
        self._versions = []
