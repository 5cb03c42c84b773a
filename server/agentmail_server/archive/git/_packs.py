"""Pack files of the archive: writing them, merging them, and choosing which to merge.

Each archive commit stores its new objects (built by pygit2, see ``_store``) as one pack in
git's pack format, version 2, with a version 2 index. Packs are written here rather than with
libgit2's pack builder, which re-inflates and re-hashes every object through its indexer and
measured about 130 µs per object on the reference machine, against a few µs here. A commit's
pack holds its objects whole: git requires a delta's base to be in the same pack, and the
previous version of each folder is in an older one.

Packs accumulate, one per commit, so they are merged geometrically: the smallest packs are
combined whenever one of them is not at least twice as big as all smaller ones together. That
keeps the number of packs logarithmic in the number of objects, and each object is copied a
logarithmic number of times. A merge is where deltas are made: trees that are older versions
of a folder whose newest version is in the same merge (the caller says which, see
``_lineage``) are stored as deltas against it (see ``_deltas``); every other entry is copied
verbatim. Deltas are "ref deltas" (they name their base by id, not by position), so later
merges copy them verbatim too. Packs with a ``.keep`` file are left alone, and so are packs
holding offset deltas (made by ``git gc``): those cannot be copied entry by entry.

Every file is written under a temporary name, flushed to stable storage, and renamed into
place, the index last: git only sees a pack through its index.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import operator
import os
import pathlib
import struct
import tempfile
import zlib
from collections.abc import Collection, Iterable, Sequence

_PACK_SIGNATURE = b"PACK"
_IDX_MAGIC = b"\xfftOc"
_VERSION = 2
_FANOUT_OFFSET = 8
_OIDS_OFFSET = _FANOUT_OFFSET + 256 * 4
_OID_BYTES = 20
TRAILER_BYTES = 20
TREE = 2  # git's object type number of a tree
_LARGE_OFFSET = 0x80000000
_READ_ONLY = 0o444  # as git leaves its packs
# Files being written; their own prefix, so that cleaning up never touches git's own.
TEMPORARY_PREFIX = "tmp_agentmail_"
# Merging starts above this many packs: a few packs cost readers nothing measurable.
MAX_PACKS = 8
GEOMETRIC_FACTOR = 2
# Objects smaller than this are stored in zlib's "stored" format (uncompressed): setting up a
# compressor cost ~40 µs per object on the reference machine, most of the cost of archiving a
# message, to save a few hundred bytes that `git gc` recovers anyway. Bigger blobs (long
# bodies) are deflated at the fastest level. Trees are always stored: a month's folder is
# rewritten by every commit that adds to it, deflating it was the largest cost of a commit,
# and the next merge turns all but its newest version into a small delta anyway.
DEFLATE_FROM = 1024
_STORED_BLOCK = 0xFFFF
# The zlib header and a final stored block's header; the Adler-32 trailer.
_ONE_BLOCK = struct.Struct("<BBBHH")
_ADLER = struct.Struct(">I")

StagedObject = tuple[bytes, int, bytes]  # raw object id, git object type, content


@dataclasses.dataclass(frozen=True, slots=True)
class PackFile:
    """One pack: its index path and how many objects it holds."""

    idx: pathlib.Path
    objects: int

    @property
    def stem(self) -> str:
        """``pack-<hash>``, shared by the pack's ``.pack``, ``.idx`` and other files."""
        return self.idx.stem

    @property
    def pack(self) -> pathlib.Path:
        """The pack's data file."""
        return self.idx.with_suffix(".pack")


def entry_header(kind: int, size: int) -> bytes:
    """Type and size of a pack entry: 3 type bits, then the size 4 and 7 bits at a time."""
    first = (kind << 4) | (size & 0x0F)
    size >>= 4
    out = bytearray()
    while size:
        out.append(first | 0x80)
        first = size & 0x7F
        size >>= 7
    out.append(first)
    return bytes(out)


def zlib_stream(data: bytes, kind: int = 0) -> bytes:
    """``data`` as a zlib stream, as git stores object contents (deflated or stored, see
    ``DEFLATE_FROM``)."""
    size = len(data)
    if size >= DEFLATE_FROM and kind != TREE:
        return zlib.compress(data, 1)
    if size <= _STORED_BLOCK:  # one block: most objects, so without the loop below
        head = _ONE_BLOCK.pack(0x78, 0x01, 1, size, size ^ _STORED_BLOCK)
        return b"".join((head, data, _ADLER.pack(zlib.adler32(data))))
    # A zlib header (deflate, 32 KiB window, no preset dictionary), stored blocks of at most
    # 64 KiB (the last one marked final), and the Adler-32 checksum of the data.
    parts = [b"\x78\x01"]
    view = memoryview(data)
    start = 0
    while True:
        block = view[start : start + _STORED_BLOCK]
        start += len(block)
        final = 1 if start >= len(data) else 0
        parts.append(struct.pack("<BHH", final, len(block), len(block) ^ _STORED_BLOCK))
        parts.append(bytes(block))
        if final:
            break
    parts.append(struct.pack(">I", zlib.adler32(data)))
    return b"".join(parts)


class PackWriter:
    """Streams entries into a temporary pack file and then writes its index."""

    def __init__(self, pack_dir: pathlib.Path, count: int) -> None:
        self._dir = pack_dir
        fd, name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX + "pack_", dir=pack_dir)
        os.fchmod(fd, _READ_ONLY)
        self._file = os.fdopen(fd, "wb")
        self._temp = pathlib.Path(name)
        self._hash = hashlib.sha1(usedforsecurity=False)
        self._offset = 0
        self._entries: list[tuple[bytes, int, int]] = []  # oid, crc32, offset
        self._idx_temp: pathlib.Path | None = None
        self._write(_PACK_SIGNATURE + struct.pack(">II", _VERSION, count))

    def _write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._hash.update(data)
        self._offset += len(data)

    def add(self, oid: bytes, entry: bytes | memoryview, crc: int | None = None) -> None:
        """Append one entry (header and deflated data) for object ``oid``."""
        self._entries.append((oid, zlib.crc32(entry) if crc is None else crc, self._offset))
        self._write(entry)

    def add_run(self, data: bytes, entries: Sequence[tuple[int, bytes, int]], start: int) -> None:
        """Append consecutive entries copied from another pack as one block: ``data`` is
        that pack's bytes from offset ``start`` on, and ``entries`` are ``(offset in that
        pack, oid, crc32)`` of each entry in it, in order (as :func:`read_index` gives)."""
        shift = self._offset - start
        self._entries += [(oid, crc, offset + shift) for offset, oid, crc in entries]
        self._write(data)

    def add_many(self, oids: Sequence[bytes], entries: Sequence[bytes]) -> None:
        """Append entries (headers and deflated data) for objects ``oids``, in one write."""
        offset = self._offset
        for oid, entry in zip(oids, entries, strict=True):
            self._entries.append((oid, zlib.crc32(entry), offset))
            offset += len(entry)
        self._write(b"".join(entries))

    def finish(self) -> PackFile:
        """Close the pack, write the index, flush both and move them into place."""
        try:
            checksum = self._hash.digest()
            self._file.write(checksum)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            stem = "pack-" + checksum.hex()
            self._idx_temp = self._write_index(checksum)
            os.replace(self._temp, self._dir / f"{stem}.pack")
            os.replace(self._idx_temp, self._dir / f"{stem}.idx")
        except BaseException:
            self.abandon()
            raise
        fsync_folder(self._dir)
        return PackFile(self._dir / f"{stem}.idx", len(self._entries))

    def _write_index(self, pack_checksum: bytes) -> pathlib.Path:
        # Sorted by id alone (ids are unique): comparing tuples costs more than the bytes.
        entries = sorted(self._entries, key=operator.itemgetter(0))
        oids = [oid for oid, _, _ in entries]
        # Entries whose id starts with a byte up to each value, by bisection of the ids.
        fanout = [bisect.bisect_left(oids, bytes((first + 1,))) for first in range(255)]
        fanout.append(len(oids))
        offsets = [offset for _, _, offset in entries]
        large: list[int] = []
        if offsets and max(offsets) >= _LARGE_OFFSET:
            for index, offset in enumerate(offsets):
                if offset >= _LARGE_OFFSET:
                    offsets[index] = _LARGE_OFFSET | len(large)
                    large.append(offset)
        body = b"".join(
            (
                _IDX_MAGIC,
                struct.pack(">I", _VERSION),
                struct.pack(">256I", *fanout),
                b"".join(oids),
                struct.pack(f">{len(entries)}I", *[crc for _, crc, _ in entries]),
                struct.pack(f">{len(offsets)}I", *offsets),
                struct.pack(f">{len(large)}Q", *large),
                pack_checksum,
            )
        )
        fd, name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX + "idx_", dir=self._dir)
        self._idx_temp = pathlib.Path(name)
        os.fchmod(fd, _READ_ONLY)
        with os.fdopen(fd, "wb") as file:
            file.write(body + hashlib.sha1(body, usedforsecurity=False).digest())
            file.flush()
            os.fsync(file.fileno())
        return self._idx_temp

    def abandon(self) -> None:
        """Remove the temporary files after a failure."""
        self._file.close()
        self._temp.unlink(missing_ok=True)
        if self._idx_temp is not None:
            self._idx_temp.unlink(missing_ok=True)


def write_pack(pack_dir: pathlib.Path, objects: Collection[StagedObject]) -> PackFile:
    """Write ``objects`` as a new pack (and index) in ``pack_dir``, durably."""
    writer = PackWriter(pack_dir, len(objects))
    try:
        writer.add_many(
            [oid for oid, _, _ in objects],
            [entry_header(kind, len(data)) + zlib_stream(data, kind) for _, kind, data in objects],
        )
    except BaseException:
        writer.abandon()
        raise
    return writer.finish()


def read_index(pack: PackFile) -> list[tuple[int, bytes, int]]:
    """``(offset, oid, crc32)`` of every entry, in pack order."""
    data = pack.idx.read_bytes()
    count = pack.objects
    oids_end = _OIDS_OFFSET + count * _OID_BYTES
    crcs = struct.unpack_from(f">{count}I", data, oids_end)
    offsets = list(struct.unpack_from(f">{count}I", data, oids_end + 4 * count))
    large_at = oids_end + 8 * count
    for index, offset in enumerate(offsets):
        if offset & _LARGE_OFFSET:
            (offsets[index],) = struct.unpack_from(
                ">Q", data, large_at + 8 * (offset & ~_LARGE_OFFSET)
            )
    oids = [data[start : start + _OID_BYTES] for start in range(_OIDS_OFFSET, oids_end, _OID_BYTES)]
    return sorted(zip(offsets, oids, crcs, strict=True))


def _read_count(idx: pathlib.Path) -> int:
    with idx.open("rb") as file:
        header = file.read(_OIDS_OFFSET)
    if len(header) < _OIDS_OFFSET or header[:4] != _IDX_MAGIC:
        raise ValueError(f"{idx} is not a version 2 pack index")
    if int.from_bytes(header[4:8], "big") != _VERSION:
        raise ValueError(f"{idx} is not a version 2 pack index")
    return int.from_bytes(header[_OIDS_OFFSET - 4 : _OIDS_OFFSET], "big")


def list_packs(pack_dir: pathlib.Path, exclude: Iterable[str] = ()) -> list[PackFile]:
    """Packs with both files, no ``.keep`` file and a stem not in ``exclude``, smallest first."""
    excluded = set(exclude)
    packs = []
    for idx in pack_dir.glob("pack-*.idx"):
        if idx.stem in excluded or idx.with_suffix(".keep").exists():
            continue
        if not idx.with_suffix(".pack").exists():
            continue
        try:
            packs.append(PackFile(idx, _read_count(idx)))
        except FileNotFoundError:  # removed meanwhile, e.g. by a `git gc` run by a person
            continue
    packs.sort(key=lambda pack: (pack.objects, pack.stem))
    return packs


def packs_to_merge(packs: Sequence[PackFile], max_packs: int = MAX_PACKS) -> list[PackFile]:
    """The smallest packs to merge into one (none while there are at most ``max_packs``).

    Args:
        packs: the packs, smallest first (as :func:`list_packs` returns them).
        max_packs: how many packs are tolerated before merging.
    """
    if len(packs) <= max_packs:
        return []
    cut = 0
    smaller = 0
    for index, pack in enumerate(packs):
        if pack.objects < GEOMETRIC_FACTOR * smaller:
            cut = index + 1
        smaller += pack.objects
    # Sizes already geometric but too many of them: merge enough small ones to get under.
    cut = max(cut, len(packs) - max_packs + 1)
    return list(packs[:cut]) if cut >= 2 else []


def remove_pack(pack: PackFile) -> None:
    """Delete every file of a pack; the index goes first, so that no reader finds an index
    whose data is gone (a pack without its index is ignored)."""
    pack.idx.unlink(missing_ok=True)
    for path in pack.idx.parent.glob(pack.stem + ".*"):
        path.unlink(missing_ok=True)


def fsync_folder(folder: pathlib.Path) -> None:
    """Flush a folder's entries (new and renamed files) to stable storage."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
