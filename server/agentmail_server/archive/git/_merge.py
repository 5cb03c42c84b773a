"""Merging packs into one, storing older versions of folders as deltas on the way.

See ``_packs`` for why packs are merged and ``_deltas`` for the deltas. Trees that stay whole
(the newest version of each folder) are deflated on the way if their commit stored them
uncompressed. Entries are copied
straight from the mapped pack files, so a merge never holds the packs in memory; only the
trees being turned into deltas (and their bases) are inflated, one base at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import mmap
import pathlib
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence

from agentmail_server.archive.git._deltas import TreeIndex, tree_delta
from agentmail_server.archive.git._packs import (
    DEFLATE_FROM,
    TRAILER_BYTES,
    TREE,
    PackFile,
    PackWriter,
    entry_header,
    read_index,
    zlib_stream,
)

_OFS_DELTA = 6  # base given by its position in the pack: cannot move to another pack
_REF_DELTA = 7  # base given by its object id: copied verbatim

# Given the ids of the trees a merge stores whole, which of them to store as deltas against
# which other (see ``_lineage.Lineage.plan``).
DeltaPlanner = Callable[[Collection[bytes]], Mapping[bytes, bytes]]


class DeltaPackError(ValueError):
    """A pack holds offset deltas, so its entries cannot be copied into another pack one by one.

    Attributes:
        stem: the pack's name, ``pack-<hash>``.
    """

    def __init__(self, stem: str) -> None:
        super().__init__(f"{stem} holds offset deltas")
        self.stem = stem


@dataclasses.dataclass(frozen=True)
class MergeResult:
    """The merged pack, and the planned trees it settled: stored as deltas, or whole because
    a delta was no smaller (tiny trees) -- either way, not worth planning again."""

    pack: PackFile
    settled: frozenset[bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    mapped: mmap.mmap
    offset: int
    end: int
    crc: int

    @property
    def kind(self) -> int:
        return (self.mapped[self.offset] >> 4) & 7

    @property
    def data_start(self) -> int:
        """Where the zlib stream starts (for an entry that is not a delta)."""
        position = self.offset
        while self.mapped[position] & 0x80:  # the type and size header
            position += 1
        return position + 1

    def inflate(self) -> bytes:
        """The object's content (for an entry that is not a delta)."""
        return zlib.decompress(self.mapped[self.data_start : self.end])

    def deflated(self) -> bytes | None:
        """The entry with its content deflated, when a commit stored it uncompressed and it is
        big enough to gain (None: copy it as it is)."""
        start = self.data_start
        # After the two-byte zlib header, a stored block's header has block type 0.
        # A merge keeps the newest version of each folder whole, and it may live long.
        if self.end - start < DEFLATE_FROM or self.mapped[start + 2] & 0x06:
            return None
        content = self.inflate()
        return entry_header(self.kind, len(content)) + zlib.compress(content, 1)


def _make_deltas(
    entries: Mapping[bytes, _Entry], plan: Mapping[bytes, bytes]
) -> tuple[dict[bytes, bytes], set[bytes]]:
    """The pack entry of each planned tree that is worth storing as a delta, and every
    planned tree that was considered."""
    by_base: dict[bytes, list[bytes]] = {}
    considered: set[bytes] = set()
    for target, base in plan.items():
        found, base_entry = entries.get(target), entries.get(base)
        if found is None or base_entry is None:
            continue
        if found.kind == TREE and base_entry.kind == TREE:
            by_base.setdefault(base, []).append(target)
            considered.add(target)
    made: dict[bytes, bytes] = {}
    for base, targets in by_base.items():
        try:
            index = TreeIndex(entries[base].inflate())
        except ValueError:
            continue
        for target in targets:
            delta = tree_delta(index, entries[target].inflate())
            if delta is not None:
                made[target] = entry_header(_REF_DELTA, len(delta)) + base + zlib_stream(delta)
    return made, considered


def merge_packs(
    pack_dir: pathlib.Path, packs: Sequence[PackFile], planner: DeltaPlanner | None = None
) -> MergeResult:
    """Copy the entries of ``packs`` (each object once) into one new pack, storing the trees
    ``planner`` names as deltas against their bases.

    Entries copied verbatim (all but the few trees rewritten) are copied in runs: each run of
    consecutive entries of one pack is one slice of the mapped file, written and hashed at
    once, and only its index records are made one by one. Copying entry by entry cost tens
    of microseconds per object, and every object is copied a few times over its life.

    Raises:
        DeltaPackError: one of the packs holds offset deltas; nothing was written.
    """
    with contextlib.ExitStack() as stack:
        sources: list[_Source] = []
        # The first copy of each object wins: object id -> (pack number, entry number).
        winners: dict[bytes, tuple[int, int]] = {}
        trees: dict[bytes, tuple[int, int]] = {}  # the winners that are trees stored whole
        for number, pack in enumerate(packs):
            with pack.pack.open("rb") as file:
                mapped = stack.enter_context(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ))
            source = _Source(mapped, read_index(pack))
            sources.append(source)
            for position, (offset, oid, _) in enumerate(source.index):
                kind = (mapped[offset] >> 4) & 7
                if kind == _OFS_DELTA:
                    raise DeltaPackError(pack.stem)
                if oid in winners:
                    source.rewritten[position] = None  # a later copy: left out
                    continue
                winners[oid] = (number, position)
                if kind == TREE:
                    trees[oid] = (number, position)
        deltas: dict[bytes, bytes] = {}
        settled: set[bytes] = set()
        if planner is not None:
            plan = planner(trees.keys())
            found = {
                oid: sources[trees[oid][0]].entry(trees[oid][1])
                for oid in (*plan, *plan.values())
                if oid in trees
            }
            deltas, settled = _make_deltas(found, plan)
        # Trees stored whole are rewritten too: as deltas, or deflated when big enough to gain.
        for oid, (number, position) in trees.items():
            source = sources[number]
            rewritten = deltas.get(oid)
            if rewritten is None and source.size(position) >= DEFLATE_FROM:
                rewritten = source.entry(position).deflated()
            if rewritten is not None:
                source.rewritten[position] = rewritten
        writer = PackWriter(pack_dir, len(winners))
        try:
            for source in sources:
                source.copy_to(writer)
        except BaseException:
            writer.abandon()
            raise
        return MergeResult(writer.finish(), frozenset(settled))


class _Source:
    """One pack being merged: its mapped file, its index, and what to do differently for
    some of its entries (by position: rewritten, or None when left out as a duplicate)."""

    def __init__(self, mapped: mmap.mmap, index: list[tuple[int, bytes, int]]) -> None:
        self.mapped = mapped
        self.index = index  # (offset, oid, crc32) in pack order
        self.end = len(mapped) - TRAILER_BYTES
        self.rewritten: dict[int, bytes | None] = {}

    def _end(self, position: int) -> int:
        return self.index[position + 1][0] if position + 1 < len(self.index) else self.end

    def size(self, position: int) -> int:
        return self._end(position) - self.index[position][0]

    def entry(self, position: int) -> _Entry:
        offset, _, crc = self.index[position]
        return _Entry(self.mapped, offset, self._end(position), crc)

    def copy_to(self, writer: PackWriter) -> None:
        """Append the entries to ``writer``: rewritten ones one by one, and the runs of
        entries between them verbatim, each run as one slice of the file."""
        index, mapped = self.index, self.mapped
        done = 0
        for position in sorted(self.rewritten):
            if position > done:
                start, stop = index[done][0], index[position][0]
                writer.add_run(mapped[start:stop], index[done:position], start)
            rewritten = self.rewritten[position]
            if rewritten is not None:
                writer.add(index[position][1], rewritten)
            done = position + 1
        if done < len(index):
            start = index[done][0]
            writer.add_run(mapped[start : self.end], index[done:], start)
