"""The pure parts of the archive: quoting, slugs, commit messages and trailers, pack files."""

from __future__ import annotations

import json
import pathlib
import random

import pygit2
import pytest
from agentmail_server.archive._commits import (
    MAX_LISTED,
    Position,
    commit_message,
    parse_position,
)
from agentmail_server.archive._layout import (
    MessageRecord,
    _quoted,
    render_message,
    subject_slug,
    thread_folder,
)
from agentmail_server.archive.git import update_tree
from agentmail_server.archive.git._merge import merge_packs
from agentmail_server.archive.git._packs import (
    PackFile,
    list_packs,
    packs_to_merge,
    write_pack,
)
from agentmail_server.archive.git._trees import TreeWriter
from agentmail_server.domain.models import Importance, Message


def message(message_id: int = 7, subject: str = "Hi", **fields: object) -> MessageRecord:
    values: dict[str, object] = {
        "id": message_id,
        "project_id": 1,
        "sender_id": 1,
        "sender_name": "Alice",
        "thread_id": str(message_id),
        "subject": subject,
        "body": "body",
        "body_size": 4,
        "importance": Importance.NORMAL,
        "ack_required": False,
        "topic": "",
        "to": ("Bob",),
        "cc": (),
        "bcc": ("Zed",),
        "created_at": 1_700_000_000_123_456,
    }
    values.update(fields)
    return MessageRecord(Message(**values), "shop")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'quote " and \\ backslash',
        "line\nbreak\ttab",
        "sep\u2028\u2029nel\x85del\x7f",
        "ü→",
    ],
)
def test_quoted_values_stay_on_one_line_and_round_trip(text: str) -> None:
    quoted = _quoted(text)
    assert "\n" not in quoted and "\u2028" not in quoted and "\x85" not in quoted
    assert json.loads(quoted) == text


def test_front_matter_never_mentions_bcc() -> None:
    rendered = render_message(message()).decode()
    assert "Zed" not in rendered and "bcc" not in rendered
    assert rendered.startswith('---\nid: 7\nproject: "shop"\n')
    assert 'created: "2023-11-14T22:13:20.123456Z"\n' in rendered


def test_subject_slugs_are_short_ascii_words() -> None:
    assert subject_slug("Schema: the ORDERS table!") == "schema-the-orders-table"
    assert subject_slug("Größe prüfen") == "groe-prufen"
    assert subject_slug("???") == "message"
    assert len(subject_slug("word " * 40)) <= 60


def test_thread_folders_are_safe_and_distinct() -> None:
    assert thread_folder("POL-358") == "POL-358"
    assert thread_folder("42") == "42"
    odd = {thread_folder(t) for t in ("a/b", "a b", "a\\b", "..", ".git", "x" * 128)}
    assert len(odd) == 6
    for name in odd:
        assert "/" not in name and not name.startswith(".") and len(name) <= 80


def test_commit_message_lists_records_and_ends_with_the_position() -> None:
    records = [message(i, subject=f"S{i}") for i in range(1, MAX_LISTED + 6)]
    text = commit_message(records, [], Position(records[-1].message.id, 3))
    assert text.startswith(f"Archive {len(records)} messages\n\n- #1 shop: Alice → Bob: S1\n")
    assert "- … and 5 more\n" in text
    assert "Zed" not in text
    assert parse_position(text) == Position(len(records), 3)


def test_trailers_cannot_be_forged_by_a_subject() -> None:
    forged = message(subject="x\n\nAgentmail-Message: 999\nAgentmail-Agent-Revision: 9")
    text = commit_message([forged], [], Position(7, 0))
    assert parse_position(text) == Position(7, 0)
    assert parse_position("someone's own commit\n\nwith a body\n") is None


def test_a_position_without_the_reservation_trailer_reads_as_revision_zero() -> None:
    written_before_reservations = "Archive\n\nAgentmail-Message: 7\nAgentmail-Agent-Revision: 2\n"
    assert parse_position(written_before_reservations) == Position(7, 2, 0)


def pack(objects: int, name: str) -> PackFile:
    return PackFile(pathlib.Path(f"{name}.idx"), objects)


def test_packs_merge_geometrically_once_there_are_too_many() -> None:
    few = [pack(10, f"p{i}") for i in range(8)]
    assert packs_to_merge(few) == []
    equal = [pack(10, f"p{i}") for i in range(9)]
    assert packs_to_merge(equal) == equal
    geometric = [pack(1, "a"), pack(1, "b"), *(pack(4**i, f"g{i}") for i in range(1, 8))]
    assert [p.stem for p in packs_to_merge(geometric)] == ["a", "b"]


def test_written_and_merged_packs_are_readable_by_libgit2(tmp_path: pathlib.Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    pack_dir = tmp_path / "r.git" / "objects" / "pack"
    contents = [b"", b"small", b"x" * 1023, bytes(range(256)) * 300]
    staged = [(pygit2.hash(data).raw, 3, data) for data in contents]
    write_pack(pack_dir, staged[:3])
    write_pack(pack_dir, staged[1:])
    assert [p.objects for p in list_packs(pack_dir)] == [3, 3]
    merged = merge_packs(pack_dir, list_packs(pack_dir)).pack
    assert merged.objects == 4
    for old in list_packs(pack_dir):
        if old.stem != merged.stem:
            for path in pack_dir.glob(old.stem + ".*"):
                path.unlink()
    fresh = pygit2.Repository(str(tmp_path / "r.git"))
    for data in contents:
        blob = fresh[pygit2.hash(data)]
        assert isinstance(blob, pygit2.Blob) and blob.data == data
    assert repo.is_bare


def libgit2_tree(repo: pygit2.Repository, files: dict[str, pygit2.Oid]) -> pygit2.Oid:
    """The tree libgit2's own builder makes for ``files`` (path -> blob), for comparison."""
    folders: dict[str, dict[str, pygit2.Oid]] = {}
    direct = {}
    for path, blob in files.items():
        head, _, rest = path.partition("/")
        if rest:
            folders.setdefault(head, {})[rest] = blob
        else:
            direct[head] = blob
    builder = repo.TreeBuilder()
    for name, blob in direct.items():
        builder.insert(name, blob, pygit2.GIT_FILEMODE_BLOB)
    for name, inner in folders.items():
        builder.insert(name, libgit2_tree(repo, inner), pygit2.GIT_FILEMODE_TREE)
    return builder.write()


def test_incremental_trees_are_the_trees_libgit2_builds(tmp_path: pathlib.Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "t.git"), bare=True)
    blobs = [repo.create_blob(f"content {i}".encode()) for i in range(6)]
    # Folder "a" sorts after "a-b" and "a.b" but before "a0": git compares it as "a/".
    first = {"a-b": blobs[0], "a/x": blobs[1], "a.b": blobs[2], "a0": blobs[3], "z/y/w": blobs[4]}
    tree = update_tree(repo, None, first)
    assert tree == libgit2_tree(repo, first)
    second = {"a/m": blobs[5], "a0": None, "z/y/w": None, "b/c/d": blobs[0]}
    tree = update_tree(repo, tree, second)
    expected = {"a-b": blobs[0], "a/x": blobs[1], "a.b": blobs[2], "a/m": blobs[5]}
    assert tree == libgit2_tree(repo, {**expected, "b/c/d": blobs[0]})
    assert update_tree(repo, tree, {"b/c/d": blobs[0]}) == tree  # the same content: the same id


def test_trees_kept_in_memory_across_commits_stay_the_trees_libgit2_builds(
    tmp_path: pathlib.Path,
) -> None:
    # One writer across many updates, as the archive uses it: appends (the fast path),
    # inserts in the middle, replaced entries, removals and a file turning into a folder.
    repo = pygit2.init_repository(str(tmp_path / "m.git"), bare=True)

    def read(raw: bytes) -> tuple[int, bytes]:
        kind, data = repo.odb.read(pygit2.Oid(raw=raw))
        return int(kind), data

    writer = TreeWriter(read, lambda raw, content: repo.odb.write(2, content) and None)
    blobs = [repo.create_blob(f"blob {i}".encode()) for i in range(8)]
    rng = random.Random(5)
    files: dict[str, pygit2.Oid] = {}
    tree: bytes | None = None
    for step in range(60):
        changes: dict[str, pygit2.Oid | None] = {}
        for i in range(rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.5:  # a new message at the end of the month
                changes[f"m/2026/11/{step:03d}-{i}.md"] = rng.choice(blobs)
            elif roll < 0.7 and files:  # replace or remove an existing file
                path = rng.choice(sorted(files))
                if not any(p.startswith(path) or path.startswith(p) for p in changes):
                    changes[path] = rng.choice([None, *blobs])
            elif roll < 0.85:  # a name sorting before existing ones
                changes[f"m/2026/11/0{rng.randint(0, 99):02d}-x.md"] = rng.choice(blobs)
            elif not any(p.startswith(f"t/{step % 6}") for p in changes):
                # t/<k> as a file or as a folder, each replacing the other
                name = f"t/{step % 6}"
                if rng.random() < 0.5:
                    changes[name] = rng.choice(blobs)
                else:
                    changes[f"{name}/{step}.md"] = rng.choice(blobs)
        for path, blob in changes.items():
            for known in list(files):  # what the change replaces: the folder, or a file
                if known.startswith(f"{path}/") or path.startswith(f"{known}/"):
                    del files[known]
            if blob is None:
                files.pop(path, None)
            else:
                files[path] = blob
        raw_changes = {p: (b.raw if b is not None else None) for p, b in changes.items()}
        tree = writer.update(tree, raw_changes)
        writer.committed()
        assert pygit2.Oid(raw=tree) == libgit2_tree(repo, files), step
