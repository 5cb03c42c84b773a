"""Which tree objects are versions of the same folder: what pack merges need to store older
versions as deltas against newer ones (see ``_deltas``).

A tree object does not say where it sits in the repository, and finding out means walking
trees from the commits, which costs as much as the trees are big. The tree writer knows each
folder's path as it writes it, so it reports ``(path, previous version, new version)`` here
after each commit, and a merge asks which of its trees have a newer version in the same merge.

Only trees stored whole are tracked; a tree a merge has dealt with is forgotten. The record is
held in memory and bounded: past ``capacity`` tracked trees the folders written least recently are
forgotten, and their versions simply stay stored whole. After a restart the record starts
empty; the tree writer reports each folder's on-disk version again when a commit first
changes it, so a folder's newest version from before the restart still becomes a delta.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

DEFAULT_CAPACITY = 200_000


class Lineage:
    """Versions of each folder stored whole, oldest first, bounded to ``capacity`` trees."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self._versions: OrderedDict[str, list[bytes]] = OrderedDict()
        # Folders with two or more versions: the only ones a merge can delta.
        self._several: set[str] = set()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def record(self, path: str, previous: bytes | None, current: bytes) -> None:
        """``path`` changed from tree ``previous`` (None: it is new) to tree ``current``."""
        versions = self._versions.get(path)
        if versions is None:
            versions = self._versions[path] = []
        else:
            self._versions.move_to_end(path)
        for oid in (previous, current):
            if oid is not None and (not versions or versions[-1] != oid):
                versions.append(oid)
                self._count += 1
        if len(versions) >= 2:
            self._several.add(path)
        while self._count > self.capacity:
            oldest, forgotten = self._versions.popitem(last=False)
            self._several.discard(oldest)
            self._count -= len(forgotten)

    def plan(self, whole: Collection[bytes]) -> dict[bytes, bytes]:
        """Target tree -> base tree for every tracked tree in ``whole`` (trees a merge stores
        whole) that has a newer version of its folder also in ``whole``: the newest such
        version becomes the base of all older ones. A base is never itself a target, so no
        chain of deltas can loop."""
        bases: dict[bytes, bytes] = {}
        for path in self._several:
            present = [oid for oid in self._versions[path] if oid in whole]
            if len(present) >= 2:
                newest = present[-1]
                for oid in present[:-1]:
                    bases.setdefault(oid, newest)
        hubs = set(bases.values())
        return {target: base for target, base in bases.items() if target not in hubs}

    def settled(self, targets: Collection[bytes]) -> None:
        """Forget trees a merge has dealt with: stored as deltas now, they never need a base
        again; left whole because a delta was no smaller, they would not be worth retrying."""
        if not targets:
            return
        # Targets come from folders with several versions only; a target that is also the
        # single version of another folder (two folders with identical content) stays listed
        # there, costing a slot until it is forgotten, and is never planned (not whole).
        for path in list(self._several):
            versions = self._versions[path]
            kept = [oid for oid in versions if oid not in targets]
            if len(kept) == len(versions):
                continue
            self._count -= len(versions) - len(kept)
            if len(kept) < 2:
                self._several.discard(path)
            if kept:
                self._versions[path] = kept
            else:
                del self._versions[path]
