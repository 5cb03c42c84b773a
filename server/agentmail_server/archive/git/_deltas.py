"""Git deltas between two versions of a tree, so a pack stores a folder's history compactly.

Why: every archive commit that adds a message stores a new version of each folder on the
message's paths (the month's folder of messages, the recipients' inboxes, ``threads/``), and a
folder's tree object lists all of its entries. Stored whole, those versions made the repository
grow with the square of the messages in a month. Consecutive versions share almost every
entry, so when packs are merged (see ``_packs``) older versions are stored as deltas against
the newest one: a few copy instructions plus the entries the newer version lacks.

The delta is computed entry by entry (a tree is a sequence of ``<mode> <name>\\0<20-byte id>``
entries): each entry of the target found in the base becomes a copy, adjacent copies merge
into one instruction, and entries not in the base are inserted literally. That is exact for
trees, where git's own block matcher would be approximate, and fast: parsing is one regular
expression pass and matching one dictionary lookup per entry.

The format is git's (``Documentation/gitformat-pack.txt``, "Deltified representation"): the
base's and the target's sizes as little-endian base-128 numbers, then instructions. A copy is
a byte with the high bit set whose low bits say which offset and size bytes follow; an insert
is a byte 1-127 giving how many literal bytes follow.
"""

from __future__ import annotations

import bisect
import itertools
import re

# One tree entry: an octal mode, a space, a name, a NUL and the 20-byte object id.
_ENTRY = re.compile(rb"[0-7]+ [^\x00]*\x00.{20}", re.DOTALL)
_MAX_INSERT = 0x7F
_MAX_COPY = 0xFFFFFF  # the size field has three bytes (0 would mean 0x10000)
# Chunks compared at once when extending a run: the first, growing to the largest.
_FIRST_CHUNK = 256
_MAX_CHUNK = 1 << 16


class TreeIndex:
    """A base tree prepared for computing many deltas against it.

    Attributes:
        content: the base tree.
        starts: where each entry starts, in order, and the tree's length last.
    """

    __slots__ = ("_entries", "_offsets", "content", "starts")

    def __init__(self, base: bytes) -> None:
        entries = split_tree(base)
        if entries is None:
            raise ValueError("not a git tree")
        self.content = base
        self.starts = list(itertools.accumulate(map(len, entries), initial=0))
        self._entries = entries
        self._offsets: dict[bytes, int] | None = None

    @property
    def offsets(self) -> dict[bytes, int]:
        """Where each entry starts, by the entry's bytes (built when first needed)."""
        if self._offsets is None:
            self._offsets = dict(zip(self._entries, self.starts, strict=False))
        return self._offsets

    def common_run(self, target: bytes, at: int, start: int) -> int:
        """The length of the longest run of whole entries that ``target`` (from ``at``) and
        the base (from ``start``) share; both offsets are entry boundaries."""
        base = self.content
        limit = min(len(base) - start, len(target) - at)
        low = 0
        # Growing chunks first (each comparison is one memcmp), then bisect the first chunk
        # that differs: versions of a folder share long runs of entries.
        step = _FIRST_CHUNK
        while (
            low + step <= limit
            and base[start + low : start + low + step] == target[at + low : at + low + step]
        ):
            low += step
            step = min(2 * step, _MAX_CHUNK)
        high = min(low + step, limit)
        while low < high:
            middle = (low + high + 1) // 2
            if base[start + low : start + middle] == target[at + low : at + middle]:
                low = middle
            else:
                high = middle - 1
        # Entry boundaries agree up to where the trees differ; back off to the last one.
        return self.starts[bisect.bisect_right(self.starts, start + low) - 1] - start


def split_tree(content: bytes) -> list[bytes] | None:
    """The entries of a tree's content, or None when the content is not a tree's."""
    entries: list[bytes] = _ENTRY.findall(content)
    if sum(map(len, entries)) != len(content):
        return None
    return entries


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _copy(out: bytearray, offset: int, size: int) -> None:
    # Unrolled: a delta of a folder that gained entries all over (``threads/``) is mostly
    # copy instructions, and a loop over the bytes of each was most of a merge's time.
    while size:
        chunk = min(size, _MAX_COPY)
        at = len(out)
        out.append(0x80)
        command = 0x80
        if offset & 0xFF:
            command |= 0x01
            out.append(offset & 0xFF)
        if offset & 0xFF00:
            command |= 0x02
            out.append((offset >> 8) & 0xFF)
        if offset & 0xFF0000:
            command |= 0x04
            out.append((offset >> 16) & 0xFF)
        if offset & 0xFF000000:
            command |= 0x08
            out.append((offset >> 24) & 0xFF)
        if chunk & 0xFF:
            command |= 0x10
            out.append(chunk & 0xFF)
        if chunk & 0xFF00:
            command |= 0x20
            out.append((chunk >> 8) & 0xFF)
        if chunk & 0xFF0000:
            command |= 0x40
            out.append((chunk >> 16) & 0xFF)
        out[at] = command
        offset += chunk
        size -= chunk


def _insert(out: bytearray, data: bytes) -> None:
    for start in range(0, len(data), _MAX_INSERT):
        chunk = data[start : start + _MAX_INSERT]
        out.append(len(chunk))
        out += chunk


def tree_delta(base: TreeIndex, target: bytes) -> bytes | None:
    """A git delta that rebuilds ``target`` from the base, or None when it would not be
    smaller than ``target`` itself (or ``target`` is not a tree).

    Run by run rather than entry by entry: an entry of the target found in the base starts
    a copy, extended by comparing the bytes that follow in both (whole entries, by memcmp)
    as far as they agree. An older version of a folder that gained entries all over
    (``threads/``) is a few hundred runs of thousands of entries each.
    """
    out = bytearray(_varint(len(base.content)) + _varint(len(target)))
    offsets = base.offsets
    at, size = 0, len(target)
    copy_start = copy_end = -1
    literal: list[bytes] = []
    while at < size:
        match = _ENTRY.match(target, at)
        if match is None:
            return None
        entry = match.group()
        found = offsets.get(entry)
        if found is None:
            literal.append(entry)
            at = match.end()
            continue
        run = base.common_run(target, at, found)
        if found == copy_end and not literal:
            copy_end += run
        else:
            if copy_end >= 0:
                _copy(out, copy_start, copy_end - copy_start)
            if literal:
                _insert(out, b"".join(literal))
                literal = []
            copy_start, copy_end = found, found + run
        at += run
    if copy_end >= 0:
        _copy(out, copy_start, copy_end - copy_start)
    if literal:
        _insert(out, b"".join(literal))
    if len(out) >= len(target):
        return None
    return bytes(out)


def _read_varint(delta: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = delta[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """The object a git delta rebuilds from ``base`` (checks the sizes it records).

    Raises:
        ValueError: the delta does not fit the base, or is malformed.
    """
    source_size, position = _read_varint(delta, 0)
    target_size, position = _read_varint(delta, position)
    if source_size != len(base):
        raise ValueError(f"delta expects a base of {source_size} bytes, not {len(base)}")
    out = bytearray()
    while position < len(delta):
        command = delta[position]
        position += 1
        if command & 0x80:
            offset = size = 0
            for bit in range(4):
                if command & (1 << bit):
                    offset |= delta[position] << (8 * bit)
                    position += 1
            for bit in range(3):
                if command & (0x10 << bit):
                    size |= delta[position] << (8 * bit)
                    position += 1
            size = size or 0x10000
            if offset + size > len(base):
                raise ValueError("delta copies beyond the end of its base")
            out += base[offset : offset + size]
        elif command:
            out += delta[position : position + command]
            position += command
        else:
            raise ValueError("delta has a reserved instruction 0")
    if len(out) != target_size:
        raise ValueError(f"delta built {len(out)} bytes, not {target_size}")
    return bytes(out)
