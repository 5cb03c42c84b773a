"""The metrics endpoint follows the server's life and its ``metrics_listen`` setting."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request

import pytest
from agentmail_server.config import ServerConfig, load_config


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def test_the_command_line_serves_metrics_on_loopback_by_default():
    config = load_config([], environ={})
    assert config.metrics_listen == "127.0.0.1:9464"
    assert config.metrics_enabled


@pytest.mark.parametrize("value", ["off", "OFF", ""])
def test_off_or_empty_disables_metrics(value):
    assert not load_config(["--metrics-listen", value], environ={}).metrics_enabled
    assert not load_config([], environ={"AGENTMAIL_METRICS_LISTEN": value}).metrics_enabled


@pytest.mark.parametrize("value", ["9464", "localhost", "host:port", ":9464", "h:70000"])
def test_a_malformed_address_is_refused(value):
    with pytest.raises(ValueError, match="metrics_listen"):
        ServerConfig(metrics_listen=value)


async def test_a_server_built_directly_serves_no_metrics(tmp_path, start_server):
    async with start_server(tmp_path / "data") as server:
        assert server.metrics_port == 0


async def test_the_endpoint_stops_with_the_server(tmp_path, start_server):
    async with start_server(tmp_path / "data", metrics_listen="127.0.0.1:0") as server:
        port = server.metrics_port
        assert port > 0
        url = f"http://127.0.0.1:{port}/metrics"
        assert b"grpc_server_started_total" in await asyncio.to_thread(get, url)

    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(get, url)


async def test_a_taken_metrics_port_fails_start_and_frees_the_data_folder(tmp_path, start_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(RuntimeError, match=f"could not bind {address}"):
            async with start_server(tmp_path / "data", metrics_listen=address):
                pass

    async with start_server(tmp_path / "data", metrics_listen="127.0.0.1:0") as server:
        assert server.metrics_port > 0
