"""How flags and environment variables become typed settings: each setting's text is parsed by
its field's type (bool, int, float, path, string or a string Literal), and a bad value stops the
command line with a message naming the flag."""

from __future__ import annotations

import pathlib
import typing

import pytest
from agentmail_server import config
from agentmail_server.config import SETTINGS, ServerConfig, load_config


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The usage error argparse prints (exit status 2) for ``argv``."""
    with pytest.raises(SystemExit) as stopped:
        load_config(argv, environ={})
    assert stopped.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("1", True),
        ("On", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("0", False),
        ("off ", False),
    ],
)
def test_bool_spellings(text: str, expected: bool) -> None:
    assert load_config(["--uvloop", text], environ={}).uvloop is expected
    assert load_config([], environ={"AGENTMAIL_ARCHIVE": text}).archive is expected


@pytest.mark.parametrize("text", ["", "2", "y", "enabled", "truthy"])
def test_bool_rejects_other_words(capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert f"--ceiling-endpoints: not a boolean: {text!r}" in _fails(
        capsys, ["--ceiling-endpoints", text]
    )


@pytest.mark.parametrize(("text", "expected"), [("7", 7), (" 12 ", 12), ("1_000", 1000)])
def test_ints_parse_like_int(text: str, expected: int) -> None:
    config = load_config(["--read-pool-size", text], environ={})
    assert config.read_pool_size == expected
    assert type(config.read_pool_size) is int


@pytest.mark.parametrize("text", ["4.0", "four", ""])
def test_ints_reject_non_integers(capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert "--cache-size: invalid literal for int()" in _fails(capsys, ["--cache-size", text])


@pytest.mark.parametrize(("text", "expected"), [("2.5", 2.5), ("3", 3.0), ("1e1", 10.0)])
def test_floats_parse_like_float(text: str, expected: float) -> None:
    config = load_config(["--grace-seconds", text], environ={})
    assert config.grace_seconds == expected
    assert type(config.grace_seconds) is float


def test_floats_reject_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--heartbeat-seconds: could not convert string to float: 'soon'" in _fails(
        capsys, ["--heartbeat-seconds", "soon"]
    )


def test_paths(tmp_path: pathlib.Path) -> None:
    config = load_config(["--data-dir", str(tmp_path), "--archive-dir", "nested/arch.git"], {})
    assert config.data_dir == tmp_path
    assert config.archive_dir == pathlib.Path("nested/arch.git")
    assert config.archive_path == tmp_path / "nested" / "arch.git"


def test_strings_are_taken_verbatim() -> None:
    config = load_config(["--log-level", " debug ", "--archive-branch", "mail/v1"], environ={})
    assert config.log_level == " debug "
    assert config.archive_branch == "mail/v1"


@pytest.mark.parametrize("text", ["full", "normal"])
def test_literal_accepts_its_values(text: str) -> None:
    assert load_config(["--sqlite-synchronous", text], environ={}).sqlite_synchronous == text


@pytest.mark.parametrize("text", ["FULL", " normal", "off", ""])
def test_literal_rejects_other_values(capsys: pytest.CaptureFixture[str], text: str) -> None:
    # Exact spelling only: the value is not normalised, and ServerConfig rejects it.
    assert "sqlite_synchronous must be 'full' or 'normal'" in _fails(
        capsys, ["--sqlite-synchronous", text]
    )


def test_flag_overrides_environment_overrides_default() -> None:
    environ = {"AGENTMAIL_WRITER_MAX_BATCH": "64", "AGENTMAIL_CACHE_SIZE": "5"}
    config = load_config(["--writer-max-batch", "32"], environ=environ)
    assert config.writer_max_batch == 32
    assert config.cache_size == 5
    assert config.read_pool_size == 4


def test_every_setting_gets_a_value_of_its_fields_type() -> None:
    config = load_config([], environ={"AGENTMAIL_SQLITE_SYNCHRONOUS": "normal"})
    hints = typing.get_type_hints(ServerConfig)
    for setting in SETTINGS:
        value, kind = getattr(config, setting.field), hints[setting.field]
        if typing.get_origin(kind) is typing.Literal:
            assert value in typing.get_args(kind), setting.field
        else:
            # bool is an int subclass: an int setting must not come out as a bool, nor back.
            assert isinstance(value, kind), setting.field
            assert isinstance(value, bool) == (kind is bool), setting.field


def test_every_field_has_a_parser_chosen_by_its_type() -> None:
    hints = typing.get_type_hints(ServerConfig)
    assert set(config._PARSERS) == set(hints)
    for name, kind in hints.items():
        assert config._parser_for(name, kind) is config._PARSERS[name]


@pytest.mark.parametrize(
    "kind",
    [complex, bytes, list[str], int | None, typing.Literal[1, 2], "int", "Point"],
    ids=repr,
)
def test_a_type_without_a_parser_is_an_error(kind: object) -> None:
    # Choosing by the type's spelling took "Point" for an int and anything else for a string.
    with pytest.raises(TypeError, match=r"ServerConfig\.setting: no parser for settings of type"):
        config._parser_for("setting", kind)
