"""Regenerate the Python code for the agentmail.v1 contract.

Usage: ``python clients/generate_protos.py [OUTPUT_ROOT]`` (default: the ``clients`` folder).

Produces ``agentmail/v1/*_pb2.py`` and ``*_pb2_grpc.py`` with typed ``.pyi`` stubs for both
messages and services (mypy-protobuf). The generated files are committed; a test regenerates
them into a temporary folder and fails when the committed copies are stale.
"""

from __future__ import annotations

import pathlib
import sys

import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE = pathlib.Path("agentmail") / "v1"


def generate(output_root: pathlib.Path) -> None:
    """Run protoc with the Python, gRPC and mypy plugins into ``output_root``."""
    output_root.mkdir(parents=True, exist_ok=True)
    (output_root / PACKAGE).mkdir(parents=True, exist_ok=True)
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE).glob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={output_root}",
        f"--grpc_python_out={output_root}",
        f"--mypy_out={output_root}",
        f"--mypy_grpc_out={output_root}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package_dir in (output_root / "agentmail", output_root / PACKAGE):
        (package_dir / "__init__.py").write_text(
            '"""Generated agentmail wire types; do not edit."""\n'
        )
        (package_dir / "py.typed").write_text("")


if __name__ == "__main__":
    generate(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "clients")
