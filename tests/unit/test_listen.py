"""Which listen addresses count as this host only (and so may serve plaintext), and which
configurations the server refuses before it starts."""

from __future__ import annotations

import ipaddress
import pathlib

import pytest
from agentmail_server.config import ServerConfig, load_config
from agentmail_server.listen import is_loopback, is_unix_socket
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    "listen",
    [
        "127.0.0.1:7070",
        "127.8.9.10:0",
        "[::1]:7070",
        "localhost:7070",
        "LocalHost:1",
        "[::ffff:127.0.0.1]:7070",
        "unix:/run/agentmail.sock",
        "unix-abstract:agentmail",
    ],
)
def test_loopback_and_unix_addresses_are_local(listen: str) -> None:
    assert is_loopback(listen)


@pytest.mark.parametrize(
    "listen",
    [
        "0.0.0.0:7070",
        "[::]:7070",
        ":7070",
        "192.168.1.20:7070",
        "10.0.0.1:1",
        "[fe80::1]:1",
        "[::ffff:10.0.0.1]:1",
        "agentmail.example.com:7070",
        "localhost.example.com:7070",
        "[localhost]x:1",
    ],
)
def test_every_other_address_is_reachable(listen: str) -> None:
    assert not is_loopback(listen)


def test_unix_sockets_are_recognised_by_scheme() -> None:
    assert is_unix_socket("unix:relative.sock")
    assert not is_unix_socket("unixhost:7070")


@given(st.ip_addresses(), st.integers(0, 65535))
def test_an_ip_literal_is_local_exactly_when_it_is_loopback(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> None:
    host = str(address) if address.version == 4 else f"[{address}]"
    mapped = getattr(address, "ipv4_mapped", None)
    expected = address.is_loopback or (mapped is not None and mapped.is_loopback)
    assert is_loopback(f"{host}:{port}") is expected


@given(st.text())
def test_any_text_either_configures_or_is_refused_with_a_value_error(listen: str) -> None:
    try:
        config = ServerConfig(listen=listen)
    except ValueError:
        return
    assert is_loopback(config.listen)


def test_plaintext_on_a_reachable_address_needs_insecure() -> None:
    with pytest.raises(ValueError, match=r"refusing to serve plaintext on 0\.0\.0\.0:7070"):
        ServerConfig(listen="0.0.0.0:7070")

    assert ServerConfig(listen="0.0.0.0:7070", insecure=True).insecure
    assert ServerConfig(listen="0.0.0.0:7070", tls_cert="c.pem", tls_key="k.pem").tls_enabled


def test_insecure_is_a_bare_flag_a_variable_and_a_file_key(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "agentmail.toml"
    file.write_text('listen = "0.0.0.0:7070"\ninsecure = true\n')

    assert load_config(["--listen", "0.0.0.0:1", "--insecure"], environ={}).insecure
    assert load_config(["--listen", "[::]:1"], environ={"AGENTMAIL_INSECURE": "1"}).insecure
    assert load_config(["--config", str(file)], environ={}).insecure


def test_the_refusal_is_one_line_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        load_config(["--listen", "0.0.0.0:7070"], environ={})

    assert stopped.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_tls_files_are_plain_settings() -> None:
    config = load_config(
        ["--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"], environ={}
    )

    assert (config.tls_cert, config.tls_key, config.tls_client_ca) == ("c.pem", "k.pem", "ca.pem")
    assert config.tls_enabled
    assert not ServerConfig().tls_enabled
