"""The README's Python example runs as printed against a server started like the README says."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_ADDRESS = "127.0.0.1:7070"
LISTENING = re.compile(r"agentmail listening on (\S+:\d+)")


def _python_examples() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL)


def _server_environment(data_dir: pathlib.Path) -> dict[str, str]:
    """This environment without AGENTMAIL_* settings, so only the defaults and data_dir apply."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENTMAIL_")}
    env["AGENTMAIL_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def server_address(tmp_path: pathlib.Path) -> Iterator[str]:
    """Run the server command on a free port; yield its address; stop it with SIGTERM."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentmail_server",
            "--listen",
            "127.0.0.1:0",
            # The README's defaults but for the ports: tests may run beside a real server.
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        cwd=tmp_path,
        env=_server_environment(tmp_path / "data"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 30
    address = None
    while address is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        match = LISTENING.search(line)
        address = match.group(1) if match else None
    try:
        assert address is not None, "server did not report its address:\n" + "".join(seen)
        yield address
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, rest = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, rest = process.communicate()
    assert process.returncode == 0, "server did not stop cleanly:\n" + "".join(seen) + rest


def test_readme_has_one_complete_python_example() -> None:
    complete = [example for example in _python_examples() if "asyncio.run(" in example]
    assert len(complete) == 1
    assert README_ADDRESS in complete[0], "the example should use the default listen address"


def test_readme_python_fragments_compile() -> None:
    for example in _python_examples():
        compile(example, "README.md", "exec")


def test_readme_python_example_runs(server_address: str) -> None:
    complete = [example for example in _python_examples() if "asyncio.run(" in example]
    example = complete[0].replace(README_ADDRESS, server_address)
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", example],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"README example failed:\n{result.stdout}{result.stderr}"
    assert "sent message" in result.stdout, result.stdout
    # The outputs the example's comments promise.
    for line in ("[('Bob', True)]", "awaiting acks: 0", "['src/cart/**']"):
        assert line in result.stdout.splitlines(), result.stdout
    assert "[('src/orders/models.py', 'Alice')]" in result.stdout, result.stdout
    assert "['SendMessageResult', 'SendMessageResult', 'NotFound']" in result.stdout, result.stdout
