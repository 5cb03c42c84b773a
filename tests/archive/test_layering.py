"""The git engine stands alone: it imports nothing of agentmail beyond itself, and the
projection beside it uses only the engine's public names."""

from __future__ import annotations

import ast
import pathlib
import sys

import agentmail_server.archive
import agentmail_server.archive.git

ARCHIVE = pathlib.Path(agentmail_server.archive.__file__).parent
ENGINE = ARCHIVE / "git"


def imported(module: pathlib.Path) -> set[str]:
    """Every module ``module`` imports (absolute imports only: the package uses no others)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module.name}: relative import"
            assert node.module is not None
            names.add(node.module)
    return names


def test_the_engine_imports_only_itself_pygit2_and_the_standard_library() -> None:
    allowed = {*sys.stdlib_module_names, "pygit2"}
    for module in ENGINE.glob("*.py"):
        for name in imported(module):
            own = name == "agentmail_server.archive.git" or name.startswith(
                "agentmail_server.archive.git."
            )
            assert own or name.partition(".")[0] in allowed, f"{module.name} imports {name}"


def test_the_projection_uses_only_the_engine_face() -> None:
    for module in ARCHIVE.glob("*.py"):
        for name in imported(module):
            assert not name.startswith("agentmail_server.archive.git."), (
                f"{module.name} imports the engine's private {name}"
            )


def test_the_engine_face_is_small_and_sorted() -> None:
    face = agentmail_server.archive.git.__all__
    assert face == sorted(face)
    assert set(face) == {"GitStore", "update_tree"}
