"""The server under test: one ``python -m agentmail_server`` process on 127.0.0.1.

The bench starts it on a data folder it owns, waits until it answers health checks, reads its
resident memory and CPU time from ``/proc`` and scrapes its metrics endpoint when it has one.
It stops only the process it started, by PID, with SIGTERM and then SIGKILL after a bound.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

if TYPE_CHECKING:
    from bench.tls import TlsFiles

LISTENING = re.compile(r"agentmail listening on (\S+):(\d+)")
START_SECONDS = 60.0
STOP_SECONDS = 30.0


# Ports are picked below the kernel's ephemeral range: a port the kernel hands out for "port
# 0" (another server's, or any connection's local end) cannot take the bench's between its
# pick and the server's bind. A pick that is taken anyway fails the start, which is retried.
LOWEST_PORT = 10000
START_ATTEMPTS = 3


def _ephemeral_low() -> int:
    try:
        text = pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1, below the ephemeral range, that was free a moment ago."""
    high = max(LOWEST_PORT + 1000, _ephemeral_low())
    for _ in range(100):
        port = random.randrange(LOWEST_PORT, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_settings() -> set[str]:
    """Names of the settings the installed server accepts (``--flag`` spelt with ``_``)."""
    from agentmail_server.config import SETTINGS  # noqa: PLC0415 - server imports are optional

    return {setting.field for setting in SETTINGS}


class ServerProcess:
    """A running server process. Use :func:`running_server` to start one."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        address: str,
        metrics_url: str,
        root_certificates: bytes = b"",
    ) -> None:
        self.process = process
        self.pid = process.pid
        self.address = address
        self.metrics_url = metrics_url
        # The CA certificate clients must trust when the server speaks TLS; b"" for plaintext.
        self.root_certificates = root_certificates
        self.log: list[str] = []
        self.settled_after = 0.0
        self._reader = threading.Thread(target=self._drain, daemon=True)

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            if len(self.log) < 10_000:  # bounded: a chatty server cannot fill our memory
                self.log.append(raw.decode(errors="replace").rstrip())

    def rss_bytes(self) -> int:
        """Resident memory (VmRSS) of the server process."""
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        fields = pathlib.Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def children_cpu_seconds(self) -> float:
        """User plus system CPU time of the server's live child processes (the archive
        worker); a child that exited meanwhile (restarted) is not counted."""
        total = 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        try:
            children = pathlib.Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return 0.0
        for child in children.split():
            try:
                stat = pathlib.Path(f"/proc/{child}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def threads(self) -> int:
        """Number of threads of the server process."""
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def scrape(self) -> str | None:
        """The metrics exposition text, or None when the server has no metrics endpoint."""
        if not self.metrics_url:
            return None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, OSError):
            return None

    def settle(self, max_seconds: float, quiet_share: float = 0.05, window: float = 0.5) -> float:
        """Wait until the server's CPU use over ``window`` falls below ``quiet_share`` (its
        background work after start-up, such as an archive catching up on seeded data, is
        done); returns the seconds waited, or -1 if it was still busy after ``max_seconds``."""
        started = time.monotonic()
        while time.monotonic() - started < max_seconds:
            cpu = self.cpu_seconds()
            time.sleep(window)
            if self.cpu_seconds() - cpu < quiet_share * window:
                return round(time.monotonic() - started, 1)
        return -1.0

    def stop(self) -> int:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_SECONDS)
        self._reader.join(5)
        return int(self.process.returncode)


def _wait_ready(server: ServerProcess, deadline: float) -> None:
    """Wait until the health service answers SERVING (works at any log level)."""
    if server.root_certificates:
        credentials = grpc.ssl_channel_credentials(root_certificates=server.root_certificates)
        channel = grpc.secure_channel(server.address, credentials)
    else:
        channel = grpc.insecure_channel(server.address)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError("server exited during start-up:\n" + "\n".join(server.log))
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.05)
    raise RuntimeError("server did not become ready:\n" + "\n".join(server.log))


@contextlib.contextmanager
def running_server(
    data_dir: pathlib.Path,
    *,
    uvloop: bool = True,
    log_level: str = "WARNING",
    extra: Sequence[str] = (),
    cpus: Sequence[int] = (),
    settle_seconds: float = 120.0,
    archive: bool | None = None,
    tls: TlsFiles | None = None,
) -> Iterator[ServerProcess]:
    """Start a server over ``data_dir`` with the ceiling endpoints on; stop it on exit.

    The gRPC port is picked free beforehand (at WARNING the server does not log its address);
    when the server does log ``agentmail listening on HOST:PORT`` the bench reads it from there.
    A metrics endpoint is opened on another free port when the server has that setting.
    With ``cpus`` the process (and every thread it starts) is pinned to those CPUs. Before
    yielding, waits (at most ``settle_seconds``) until the server is idle. ``archive`` turns
    the git archive on or off when the server has that setting (None: its default). With
    ``tls`` the server speaks TLS with that certificate, and ``root_certificates`` of the
    yielded process tells clients which CA to trust.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            server = _start(data_dir, uvloop, log_level, extra, cpus, archive, tls)
            break
        except PortTaken:
            if attempt == START_ATTEMPTS:
                raise
    try:
        waited = server.settle(settle_seconds)
        if waited < 0:
            print(
                f"bench: server {server.pid} still busy after {settle_seconds:.0f} s",
                file=sys.stderr,
            )
        server.settled_after = waited
        yield server
    finally:
        code = server.stop()
        if code not in (0, -signal.SIGTERM):
            tail = "\n".join(server.log[-20:])
            print(f"bench: server {server.pid} exited with {code}:\n{tail}", file=sys.stderr)


class PortTaken(RuntimeError):
    """The server could not bind the port picked for it (taken since): pick another."""


def _start(
    data_dir: pathlib.Path,
    uvloop: bool,
    log_level: str,
    extra: Sequence[str],
    cpus: Sequence[int],
    archive: bool | None,
    tls: TlsFiles | None,
) -> ServerProcess:
    """Start the server on freshly picked ports and wait until it serves.

    Raises:
        PortTaken: it exited because a port was in use (nothing is left running).
        RuntimeError: it exited or never became ready for another reason.
    """
    known = server_settings()
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "agentmail_server",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(data_dir),
        "--log-level",
        log_level,
        "--ceiling-endpoints",
        "true",
        "--uvloop",
        "true" if uvloop else "false",
        *extra,
    ]
    if "flood_guard_per_minute" in known:
        # The scenarios send thousands of messages from one sender to one recipient on
        # purpose: the flood guard (60 a minute per pair by default) would measure itself.
        # The rate limits stay at their defaults, so their cost is in every figure.
        args += ["--flood-guard-per-minute", "0"]
    if tls is not None:
        args += ["--tls-cert", str(tls.cert_path), "--tls-key", str(tls.key_path)]
    if archive is not None and "archive" in known:
        args += ["--archive", "true" if archive else "false"]
    metrics_url = ""
    if "metrics_listen" in known:
        metrics_port = free_port()
        args += ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    pinned = tuple(cpus)
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=(lambda: os.sched_setaffinity(0, pinned)) if pinned else None,  # noqa: PLW1509
    )
    roots = tls.root_certificates if tls is not None else b""
    server = ServerProcess(process, f"127.0.0.1:{port}", metrics_url, roots)
    server._reader.start()
    try:
        _wait_ready(server, time.monotonic() + START_SECONDS)
    except RuntimeError:
        server.stop()
        if any("in use" in line for line in server.log):
            raise PortTaken(f"port {port} or {metrics_url or 'none'} was taken") from None
        raise
    for line in server.log:
        match = LISTENING.search(line)
        if match:
            server.address = f"{match.group(1)}:{match.group(2)}"
    return server
