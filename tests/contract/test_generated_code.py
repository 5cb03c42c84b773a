"""The committed generated code in clients/agentmail matches what the protos generate now."""

from __future__ import annotations

import difflib
import importlib.util
import os
import pathlib
import sys
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "clients" / "generate_protos.py"
COMMITTED = ROOT / "clients"
HOW_TO_FIX = "regenerate with `python clients/generate_protos.py` and commit the result"


def _load_generator() -> ModuleType:
    """Import clients/generate_protos.py by path: it is a script, not a package module."""
    spec = importlib.util.spec_from_file_location("agentmail_generate_protos", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generated_files(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Files under ``root/agentmail`` keyed by their path relative to ``root``."""
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted((root / "agentmail").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Generate the code from protos/ into a temporary folder."""
    out = tmp_path_factory.mktemp("generated")
    # protoc finds the mypy plugins (protoc-gen-mypy, protoc-gen-mypy_grpc) on PATH; they live
    # beside this interpreter even when its environment is not activated.
    bin_dir = str(pathlib.Path(sys.executable).parent)
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = bin_dir + os.pathsep + saved
    try:
        _load_generator().generate(out)
    finally:
        os.environ["PATH"] = saved
    return out


def test_generated_files_are_the_committed_files(fresh: pathlib.Path) -> None:
    expected = set(_generated_files(fresh))
    committed = set(_generated_files(COMMITTED))
    assert not expected - committed, f"missing {sorted(expected - committed)}; {HOW_TO_FIX}"
    assert not committed - expected, f"stale {sorted(committed - expected)}; {HOW_TO_FIX}"


def test_generated_code_is_up_to_date(fresh: pathlib.Path) -> None:
    committed = _generated_files(COMMITTED)
    stale: list[str] = []
    for name, path in _generated_files(fresh).items():
        if name not in committed:
            continue
        new = path.read_text(encoding="utf-8")
        old = committed[name].read_text(encoding="utf-8")
        if new != old:
            diff = difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"committed/{name}",
                tofile=f"generated/{name}",
                n=1,
            )
            stale.append("".join(list(diff)[:40]))
    assert not stale, f"generated code is stale; {HOW_TO_FIX}:\n" + "\n".join(stale)
