"""The snapshot helper fails on any difference, and still fails after rewriting on request."""

from __future__ import annotations

import pathlib

import pytest

from ._snapshot import UPDATE_ENV, assert_matches_snapshot

CHANGED = "the thing changed."


@pytest.fixture
def snapshot(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "snapshots" / "thing.json"
    path.parent.mkdir()
    path.write_text('{\n  "a": 1\n}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("update", [None, "1"])
def test_an_equal_snapshot_passes(
    monkeypatch: pytest.MonkeyPatch, snapshot: pathlib.Path, update: str | None
) -> None:
    if update is None:
        monkeypatch.delenv(UPDATE_ENV, raising=False)
    else:
        monkeypatch.setenv(UPDATE_ENV, update)
    assert_matches_snapshot(snapshot, '{\n  "a": 1\n}\n', changed=CHANGED)
    assert snapshot.read_text(encoding="utf-8") == '{\n  "a": 1\n}\n'


def test_a_difference_fails_with_a_diff_and_keeps_the_snapshot(
    monkeypatch: pytest.MonkeyPatch, snapshot: pathlib.Path
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_matches_snapshot(snapshot, '{\n  "a": 2\n}\n', changed=CHANGED)
    message = str(failed.value)
    assert message.startswith(CHANGED)
    assert f"`{UPDATE_ENV}=1 pytest tests/contract`" in message
    assert '-  "a": 1\n+  "a": 2\n' in message
    assert snapshot.read_text(encoding="utf-8") == '{\n  "a": 1\n}\n'


def test_updating_rewrites_and_still_fails_once(
    monkeypatch: pytest.MonkeyPatch, snapshot: pathlib.Path
) -> None:
    monkeypatch.setenv(UPDATE_ENV, "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_matches_snapshot(snapshot, '{\n  "a": 2\n}\n', changed=CHANGED)
    assert "rewrote" in str(failed.value) and '+  "a": 2\n' in str(failed.value)
    assert snapshot.read_text(encoding="utf-8") == '{\n  "a": 2\n}\n'
    monkeypatch.delenv(UPDATE_ENV)
    assert_matches_snapshot(snapshot, '{\n  "a": 2\n}\n', changed=CHANGED)


def test_a_missing_snapshot_fails_and_is_written_only_on_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "snapshots" / "new.json"
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match="no snapshot"):
        assert_matches_snapshot(path, "{}\n", changed=CHANGED)
    assert not path.exists()
    monkeypatch.setenv(UPDATE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="rewrote"):
        assert_matches_snapshot(path, "{}\n", changed=CHANGED)
    assert path.read_text(encoding="utf-8") == "{}\n"
