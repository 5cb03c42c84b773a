"""Tree deltas, the folder lineage that plans them, and packs that store them: the deltas
rebuild their targets exactly, and git and libgit2 read the merged packs."""

from __future__ import annotations

import pathlib
import random
import subprocess
import zlib

import pygit2
import pytest
from agentmail_server.archive.git._deltas import (
    TreeIndex,
    _varint,
    apply_delta,
    split_tree,
    tree_delta,
)
from agentmail_server.archive.git._lineage import Lineage
from agentmail_server.archive.git._merge import merge_packs
from agentmail_server.archive.git._packs import list_packs, remove_pack, write_pack, zlib_stream
from agentmail_server.archive.git._trees import BLOB_MODE, TREE_MODE, tree_id

TREE = 2


def entry(name: str, *, folder: bool = False, seed: int = 0) -> tuple[bytes, bytes]:
    """(sort key, serialised entry) of a file or folder with a made-up object id."""
    oid = pygit2.hash(f"{name}/{seed}".encode()).raw
    mode = TREE_MODE if folder else BLOB_MODE
    key = name.encode() + (b"/" if folder else b"")
    return key, mode + b" " + name.encode() + b"\x00" + oid


def tree(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A tree's content, entries sorted as git sorts them."""
    return b"".join(value for _, value in sorted(entries))


def month(count: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [
        entry(f"2026-11-23T10-{i // 60:02d}-{i % 60:02d}Z__status__{i}.md")
        for i in range(start, start + count)
    ]


def roundtrip(base: bytes, target: bytes) -> bytes | None:
    delta = tree_delta(TreeIndex(base), target)
    if delta is not None:
        assert apply_delta(base, delta) == target
        assert len(delta) < len(target)
    return delta


def test_an_older_version_of_a_growing_folder_is_a_tiny_delta() -> None:
    newer = tree(month(3000))
    older = tree(month(2980))
    delta = roundtrip(newer, older)
    assert delta is not None and len(delta) < 16  # sizes and one copy instruction


def test_entries_missing_from_the_base_are_inserted_in_place() -> None:
    base_entries = month(500)
    target_entries = [e for i, e in enumerate(base_entries) if i % 7] + month(40, start=10_000)
    target_entries.append(entry("2026-11-23T10-00-00Z__a-very-long-subject" + "x" * 200))
    delta = roundtrip(tree(base_entries), tree(target_entries))
    assert delta is not None


def test_changed_subfolders_are_replaced_wherever_they_are() -> None:
    threads = [entry(f"thread-{i:05d}", folder=True) for i in range(2000)]
    rng = random.Random(7)
    changed = set(rng.sample(range(2000), 25))
    newer = [
        entry(f"thread-{i:05d}", folder=True, seed=1) if i in changed else threads[i]
        for i in range(2000)
    ]
    delta = roundtrip(tree(newer), tree(threads))
    assert delta is not None and len(delta) < 25 * 60 + 26 * 8


def test_large_copies_and_offsets_use_every_field_width() -> None:
    # More than 64 KiB copied from an offset beyond 64 KiB: three-byte sizes and offsets.
    base_entries = month(4000)
    base = tree(base_entries)
    assert len(base) > 0x20000
    target = tree(base_entries[1:1500] + base_entries[1501:])
    roundtrip(base, target)


@pytest.mark.parametrize(
    ("base", "target"),
    [
        (tree(month(10)), b""),  # everything removed: the empty tree
        (b"", tree(month(10))),  # nothing to copy from
        (tree(month(10)), tree(month(10, start=100))),  # nothing in common
    ],
)
def test_a_delta_no_smaller_than_its_target_is_refused(base: bytes, target: bytes) -> None:
    assert roundtrip(base, target) is None


def test_content_that_is_not_a_tree_gets_no_delta() -> None:
    assert split_tree(b"not a tree at all") is None
    with pytest.raises(ValueError):
        TreeIndex(b"100644 name-without-an-id\x00")
    assert tree_delta(TreeIndex(tree(month(3))), b"100644 x\x00short") is None


def test_apply_delta_rejects_deltas_that_do_not_fit() -> None:
    base = tree(month(5))
    delta = tree_delta(TreeIndex(base), tree(month(4)))
    assert delta is not None
    with pytest.raises(ValueError):
        apply_delta(base + b"x", delta)
    sizes = _varint(len(base)) + _varint(1)
    with pytest.raises(ValueError, match="reserved"):
        apply_delta(base, sizes + b"\x00")
    with pytest.raises(ValueError, match="beyond"):
        apply_delta(base, sizes + b"\x93" + (len(base) - 1).to_bytes(2, "little") + b"\x02")
    with pytest.raises(ValueError, match="built"):
        apply_delta(base, sizes + b"\x02ab")


def test_stored_zlib_streams_of_any_size_inflate_to_their_data() -> None:
    for size in (0, 1, 0xFFFF, 0x10000, 3 * 0xFFFF + 5):
        data = random.Random(size).randbytes(size)
        assert zlib.decompress(zlib_stream(data, TREE)) == data


def test_lineage_makes_the_newest_version_the_base_of_older_ones() -> None:
    lineage = Lineage()
    lineage.record("m/", None, b"v1")
    lineage.record("m/", b"v1", b"v2")
    lineage.record("m/", b"v2", b"v3")
    lineage.record("t/", b"t1", b"t2")
    # Only what the merge holds is planned: v3 is in another pack.
    assert lineage.plan({b"v1", b"v2", b"t1", b"t2"}) == {b"v1": b"v2", b"t1": b"t2"}
    assert lineage.plan({b"v1", b"v2", b"v3"}) == {b"v1": b"v3", b"v2": b"v3"}
    lineage.settled({b"v1", b"v2"})
    assert len(lineage) == 3
    assert lineage.plan({b"v1", b"v2", b"v3"}) == {}


def test_a_base_is_never_also_a_target() -> None:
    lineage = Lineage()
    # Two folders with identical content at one point: the same tree id in both lineages.
    lineage.record("a/", b"x", b"shared")
    lineage.record("b/", b"shared", b"y")
    plan = lineage.plan({b"x", b"shared", b"y"})
    assert b"shared" not in plan
    assert set(plan.values()).isdisjoint(plan)


def test_lineage_forgets_the_least_recently_written_folders_beyond_capacity() -> None:
    lineage = Lineage(capacity=4)
    lineage.record("old/", b"o1", b"o2")
    lineage.record("new/", b"n1", b"n2")
    lineage.record("new/", b"n2", b"n3")
    assert len(lineage) <= 4
    assert lineage.plan({b"o1", b"o2", b"n1", b"n2", b"n3"}) == {b"n1": b"n3", b"n2": b"n3"}
    with pytest.raises(ValueError):
        Lineage(capacity=1)


def test_git_and_libgit2_read_a_merged_pack_of_tree_deltas(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "r.git"
    pygit2.init_repository(str(path), bare=True)
    pack_dir = path / "objects" / "pack"
    blob = pygit2.hash(b"hello\n").raw
    write_pack(pack_dir, [(blob, 3, b"hello\n")])
    lineage = Lineage()
    versions: list[bytes] = []
    previous: bytes | None = None
    for count in (100, 150, 151, 400):
        content = b"".join(
            BLOB_MODE + b" " + f"2026-11-23T10-00-00Z__m__{i:05d}.md".encode() + b"\x00" + blob
            for i in range(count)
        )
        oid = tree_id(content)
        write_pack(pack_dir, [(oid, TREE, content)])  # one pack per version, as commits do
        lineage.record("messages/", previous, oid)
        versions.append(content)
        previous = oid
    result = merge_packs(pack_dir, list_packs(pack_dir), lineage.plan)
    for pack in list_packs(pack_dir):
        if pack.stem != result.pack.stem:
            remove_pack(pack)
    assert len(result.settled) == 3
    listing = subprocess.run(
        ["git", "verify-pack", "-v", str(result.pack.idx)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "chain length = 1: 3 objects" in listing
    subprocess.run(["git", "fsck", "--strict", "--full"], cwd=path, check=True, capture_output=True)
    repo = pygit2.Repository(str(path))
    for content in versions:
        kind, data = repo.odb.read(pygit2.Oid(raw=tree_id(content)))
        assert (int(kind), data) == (TREE, content)
    # The newest version stays whole, deflated now (its commit stored it uncompressed); the
    # three older ones are a few bytes each.
    assert result.pack.pack.stat().st_size < len(versions[-1]) // 2
