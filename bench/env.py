"""The environment a run measured: machine, versions, filesystem, load and placement."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import pathlib
import platform
import sqlite3
import subprocess
import sys
from typing import Any


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def filesystem(path: pathlib.Path) -> dict[str, str]:
    """Mount point, type, device and options of the filesystem holding ``path``."""
    resolved = str(path.resolve())
    best: list[str] = []
    try:
        for line in pathlib.Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype, options, *_ = line.split()
            inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best[1] if best else ""):
                best = [device, mount, fstype, options]
    except OSError:
        pass
    if not best:
        return {"path": resolved, "type": "unknown"}
    device, mount, fstype, options = best
    return {"path": resolved, "mount": mount, "type": fstype, "device": device, "options": options}


def _git(*args: str) -> str:
    root = pathlib.Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def server_defaults() -> dict[str, str]:
    """Every server setting's default (the bench changes only those in ``server_command``)."""
    try:
        from agentmail_server.config import SETTINGS  # noqa: PLC0415
    except ImportError:
        return {}
    return {setting.field: setting.default for setting in SETTINGS}


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def collect(data_root: pathlib.Path, mode: str, placement: str) -> dict[str, Any]:
    """Everything about this run's environment that the numbers depend on."""
    try:
        import uvloop  # noqa: PLC0415

        uvloop_version = uvloop.__version__
    except ImportError:
        uvloop_version = "not installed"
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "mode": mode,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "grpcio": _version("grpcio"),
        "protobuf": _version("protobuf"),
        "sqlite": sqlite3.sqlite_version,
        "uvloop": uvloop_version,
        "agentmail": _version("agentmail"),
        "git_commit": _git("rev-parse", "--short", "HEAD") + (" (modified)" if dirty else ""),
        "data_filesystem": filesystem(data_root),
        "placement": placement,
        "server_command": (
            "python -m agentmail_server --listen 127.0.0.1:PORT --data-dir TMP --log-level "
            "WARNING --ceiling-endpoints true [--uvloop false] [--metrics-listen 127.0.0.1:PORT]"
            " --flood-guard-per-minute 0 [--archive true|false] [--tls-cert F --tls-key F "
            "(scenario 8)]; every other setting at its default (below), rate limits included"
        ),
        "server_defaults": server_defaults(),
        "client": "grpc.aio with pre-serialized request bytes, one channel per process, uvloop",
        "load_average_start": load_average(),
    }
