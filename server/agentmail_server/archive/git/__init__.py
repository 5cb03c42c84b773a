"""A small git engine: one branch of a bare repository, written commit by commit.

It knows nothing of mail. Callers hand it blobs and ``{path: blob}`` changes with a commit
message; it builds the trees and the commit, stores the new objects as one pack, flushed to
stable storage before the branch moves (so a crash leaves the previous commit as the head), and
keeps the number and size of packs in check by merging them. Everything written is plain git:
``git`` and libgit2 read it, ``git gc`` may run on it.

Why hand-written rather than pygit2's stock routes (index or tree builder, loose objects, the
pack builder) and ``git`` itself: measured on the reference machine, the stock routes cost 4 to
12 times the CPU per archived message, and ``git repack --geometric`` 2 to 5 times the CPU of
the merges here, for more bytes on disk. Each module's docstring gives its own measurements.

Layers, each importing only those before it:

- ``_deltas``: git deltas between two versions of a tree (pure).
- ``_trees``: incremental trees, rewriting only the folders on changed paths (pure).
- ``_lineage``: which trees are versions of the same folder, for merges to delta (pure).
- ``_packs``: writing pack files and their indexes, choosing which packs to merge.
- ``_merge``: merging packs into one, storing older trees as deltas on the way.
- ``_store``: :class:`GitStore`, the branch: staging objects in memory, committing, merging.

Only the names below are the engine's face; the modules are private to it.
"""

from agentmail_server.archive.git._store import GitStore, update_tree

__all__ = ["GitStore", "update_tree"]
