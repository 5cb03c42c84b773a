"""The settings table and the ``ServerConfig`` dataclass state each default in two places (the
table for flags, environment and help; the dataclass for servers built in code): they agree."""

from __future__ import annotations

import dataclasses

from agentmail_server.config import SETTINGS, ServerConfig, load_config

# Off when a server is built in code, on from the command line: the metrics port (a second fixed
# port would clash between servers in one process, as in tests) and the flood guard (tests send
# many messages between one pair on purpose).
DIFFERS_ON_PURPOSE = {"metrics_listen", "flood_guard_per_minute"}


def test_every_setting_is_a_config_field_and_back() -> None:
    fields = {field.name for field in dataclasses.fields(ServerConfig)}
    assert {setting.field for setting in SETTINGS} == fields


def test_command_line_defaults_equal_the_dataclass_defaults() -> None:
    from_table = load_config([], environ={})
    built = ServerConfig()
    for setting in SETTINGS:
        if setting.field in DIFFERS_ON_PURPOSE:
            continue
        assert getattr(from_table, setting.field) == getattr(built, setting.field), setting.field
    assert from_table.metrics_listen == "127.0.0.1:9464" and not built.metrics_enabled
    assert from_table.flood_guard_per_minute == 60 and built.flood_guard_per_minute == 0
