"""The import graph keeps its layers: each rule below says what a layer may not import, and why.

Every ``import`` and ``from ... import`` statement of ``server/`` and ``clients/`` (but the
generated ``clients/agentmail/v1``) is read from the syntax tree, wherever it sits: at module
level, inside a function or under ``if TYPE_CHECKING``; relative imports are resolved first. A
statement breaks a rule when the module it names, or a name it takes from a module, falls under
one of the rule's forbidden prefixes and under none of its allowed ones. Prefixes match whole
dotted components (``agentmail`` is not a prefix of ``agentmail_client``); ``*`` matches
anything, so ``agentmail_client._*`` is every private module of the client.

Over the server's top-level layers (``domain``, ``storage``, ``hub``, ``archive``, ...,
and each module at the top of the package) the graph must also have no cycle.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import pathlib
from collections.abc import Iterable, Iterator, Sequence

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ("server", "clients")
# Written by clients/generate_protos.py, checked against the .protos by test_generated_code.
EXCLUDED = ("clients/agentmail/v1",)
SERVER = "agentmail_server"
CLIENT = "agentmail_client"
GENERATED = "agentmail"
FRONT_ENDS = ("agentmail_cli", "agentmail_mcp")
# Packages whose top-level layers may not import each other in a cycle.
LAYERED_PACKAGES = (SERVER,)


@dataclasses.dataclass(frozen=True)
class Rule:
    """Modules under ``layer`` import nothing under ``forbidden`` unless it is under ``allowed``.

    ``pending`` marks a rule whose layer need not exist yet (it applies once it appears).
    """

    layer: str
    forbidden: tuple[str, ...]
    why: str
    allowed: tuple[str, ...] = ()
    pending: bool = False


def _server(*names: str) -> tuple[str, ...]:
    return tuple(f"{SERVER}.{name}" for name in names)


_PORTS_ONLY = (
    "on storage through its ports (agentmail_server.storage.ports) only, "
    "never on a backend such as agentmail_server.storage.sqlite"
)
# Every top-level layer of the server below the composition root.
_SERVER_LAYERS = (
    "domain",
    "errors",
    "config",
    "config_file",
    "datalock",
    "logs",
    "histogram",
    "storage",
    "hub",
    "limits",
    "archive",
    "services",
    "rpc",
    "metrics",
)
_FRONT_END = (
    "a front-end uses agentmail_client's public API only: "
    "not its private modules, the server or the generated agentmail.v1"
)

RULES: tuple[Rule, ...] = (
    Rule(
        f"{SERVER}.domain",
        forbidden=(SERVER,),
        allowed=_server("domain", "errors"),
        why="the domain (models, value types, commit events) depends on nothing else of the "
        "server but errors",
    ),
    Rule(
        f"{SERVER}.limits",
        forbidden=(SERVER,),
        allowed=_server("limits", "domain", "errors"),
        why="the limiters (buckets, tiers, flood guard) are plain in-memory state: they know "
        "no storage, service or transport",
    ),
    Rule(
        f"{SERVER}.storage",
        forbidden=_server(
            "services", "rpc", "app", "hub", "archive", "metrics", "server", "__main__"
        ),
        why="storage sits below everything that uses it",
    ),
    Rule(
        f"{SERVER}.services",
        forbidden=_server("storage"),
        allowed=_server("storage.ports"),
        why=f"services depend {_PORTS_ONLY}",
    ),
    Rule(
        f"{SERVER}.hub",
        forbidden=_server("storage"),
        allowed=_server("storage.ports"),
        why=f"the hub depends {_PORTS_ONLY}",
    ),
    *(
        Rule(
            f"{SERVER}.storage.{face}",
            forbidden=_server("storage.sqlite"),
            why="the storage interfaces know no backend",
        )
        for face in ("ports", "feed", "stats")
    ),
    Rule(
        f"{SERVER}.metrics",
        forbidden=_server("storage"),
        allowed=_server("storage.ports", "storage.stats"),
        why="metrics read storage through its interfaces and statistics, whatever the backend",
    ),
    Rule(
        f"{SERVER}.archive",
        forbidden=_server("storage"),
        allowed=_server(
            "storage.sqlite.connection",
            "storage.sqlite.rows",
            "storage.postgres.connection",
            "storage.postgres.rows",
        ),
        why="the archive projection reads committed records with each backend's connection "
        "settings and row mappers, nothing else of storage",
    ),
    Rule(
        f"{SERVER}.rpc",
        forbidden=_server("storage"),
        why="rpc talks to services, never to storage",
    ),
    Rule(
        f"{SERVER}.archive.git",
        forbidden=(SERVER,),
        allowed=_server("archive.git"),
        why="the git engine stands alone: the archive's projection adapts it to the server",
    ),
    *(
        Rule(
            f"{SERVER}.{layer}",
            forbidden=_server("admin"),
            why="the operator commands (agentmail-admin) sit on top, beside app: they may use "
            "any layer, and no layer depends on them",
        )
        for layer in (*_SERVER_LAYERS, "app", "__main__")
    ),
    Rule(
        SERVER,
        forbidden=(CLIENT, *FRONT_ENDS),
        why="the server never depends on a client or a front-end",
    ),
    Rule(
        CLIENT,
        forbidden=(SERVER, *FRONT_ENDS),
        why="the client reaches the server over the wire only, and knows no front-end",
    ),
    *(
        Rule(front_end, (SERVER, GENERATED, f"{CLIENT}._*"), why=_FRONT_END, pending=True)
        for front_end in FRONT_ENDS
    ),
    Rule(
        "examples",
        forbidden=(SERVER, GENERATED, f"{CLIENT}._*"),
        why="the examples show agentmail_client's public API only",
    ),
)


@dataclasses.dataclass(frozen=True)
class Import:
    """One import statement, its targets made absolute."""

    line: int
    module: str
    # Names taken by ``from module import ...``; empty for ``import module``.
    names: tuple[str, ...]

    def targets(self) -> tuple[str, ...]:
        """What it imports, most specific first: ``module.name`` for each name taken."""
        if not self.names or "*" in self.names:
            return (self.module,)
        return tuple(f"{self.module}.{name}" for name in self.names)

    def describe(self, targets: Sequence[str]) -> str:
        if len(targets) == 1:
            return targets[0]
        return f"{self.module}.{{{', '.join(t.removeprefix(self.module + '.') for t in targets)}}}"


@dataclasses.dataclass(frozen=True)
class Module:
    """One source file: its dotted name, its path for messages and its imports."""

    name: str
    path: str
    imports: tuple[Import, ...]


def _matches(module: str, pattern: str) -> bool:
    """Whether ``module`` is ``pattern`` or inside it (whole dotted components)."""
    return fnmatch.fnmatchcase(module, pattern) or fnmatch.fnmatchcase(module, pattern + ".*")


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a ``from`` import's module (``level`` leading dots)."""
    if level == 0:
        assert target is not None
        return target
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 >= len(parts):
        raise ValueError(f"{module}: relative import beyond the top-level package")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[Import]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name, ())
        elif isinstance(node, ast.ImportFrom):
            yield Import(
                node.lineno,
                _absolute(module, is_package, node.level, node.module),
                tuple(alias.name for alias in node.names),
            )


def scan(
    base: pathlib.Path,
    roots: Sequence[str] = SOURCE_ROOTS,
    excluded: Sequence[str] = EXCLUDED,
) -> list[Module]:
    """Every module under ``base/root`` for each root, named relative to its root."""
    modules = []
    for root in roots:
        for path in sorted((base / root).rglob("*.py")):
            relative = path.relative_to(base).as_posix()
            if any(relative == skip or relative.startswith(skip + "/") for skip in excluded):
                continue
            parts = list(path.relative_to(base / root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join(parts)
            tree = ast.parse(path.read_bytes(), filename=relative)
            modules.append(Module(name, relative, tuple(_imports(tree, name, is_package))))
    return modules


def check_rules(modules: Iterable[Module], rules: Sequence[Rule] = RULES) -> list[str]:
    """One ``path:line imports X (rule: why)`` line per statement breaking a rule."""
    violations: list[tuple[str, int, str]] = []
    for module in modules:
        for rule in rules:
            if not _matches(module.name, rule.layer):
                continue
            for statement in module.imports:
                broken = [
                    target
                    for target in statement.targets()
                    if any(_matches(target, prefix) for prefix in rule.forbidden)
                    and not any(_matches(target, prefix) for prefix in rule.allowed)
                ]
                if broken:
                    violations.append(
                        (
                            module.path,
                            statement.line,
                            f"imports {statement.describe(broken)} (rule: {rule.why})",
                        )
                    )
    return [f"{path}:{line} {what}" for path, line, what in sorted(violations)]


def _layer(name: str, package: str) -> str | None:
    """The top-level layer of ``package`` that holds module ``name``, if any."""
    if not _matches(name, package):
        return None
    parts = name.split(".")
    return ".".join(parts[:2])


def check_cycles(
    modules: Sequence[Module], packages: Sequence[str] = LAYERED_PACKAGES
) -> list[str]:
    """One line per cycle between top-level layers, with a statement for each step of it."""
    layers = {layer for m in modules for p in packages if (layer := _layer(m.name, p))}
    # layer -> imported layer -> the first statement (path:line) that makes the edge
    edges: dict[str, dict[str, str]] = {layer: {} for layer in layers}
    for module in modules:
        source = next((layer for p in packages if (layer := _layer(module.name, p))), None)
        if source is None:
            continue
        for statement in module.imports:
            for target in statement.targets():
                package = next((p for p in packages if _matches(target, p)), None)
                if package is None:
                    continue
                layer = _layer(target, package)
                if layer not in layers:
                    layer = package  # a name from the package's __init__
                if layer != source and layer in layers:
                    edges[source].setdefault(layer, f"{module.path}:{statement.line}")
    found = []
    for group in _groups(edges):
        cycle = _cycle_in(group, edges)
        steps = zip(cycle, [*cycle[1:], cycle[0]], strict=True)
        line = " -> ".join([*cycle, cycle[0]]) + ": "
        line += "; ".join(f"{edges[a][b]} ({a} -> {b})" for a, b in steps)
        others = [layer for layer in group if layer not in cycle]
        if others:
            line += f" (and more cycles through {', '.join(others)})"
        found.append(line)
    return found


def _groups(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected groups of two or more layers, each sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(sorted(group) for group in groups)


def _cycle_in(group: list[str], edges: dict[str, dict[str, str]]) -> list[str]:
    """A shortest cycle through the group's first layer, staying inside the group."""
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node]):
                if nxt == start:
                    return paths[node]
                if nxt in group and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {group}")


def _report(problems: Sequence[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_layers_keep_their_import_rules() -> None:
    modules = scan(ROOT)
    problems = check_rules(modules) + [f"import cycle {c}" for c in check_cycles(modules)]
    assert not problems, _report(problems)


def test_scan_covers_the_code_base() -> None:
    modules = scan(ROOT)
    names = {module.name for module in modules}
    server = [name for name in names if _matches(name, SERVER)]
    client = [name for name in names if _matches(name, CLIENT)]
    assert len(server) >= 50, f"scanned only {len(server)} server modules"
    assert len(client) >= 5, f"scanned only {len(client)} client modules"
    assert not any(_matches(name, GENERATED) and name != GENERATED for name in names)
    statements = sum(len(module.imports) for module in modules)
    assert statements >= 400, f"found only {statements} import statements"


def test_every_rule_guards_some_module() -> None:
    # A rule over a layer that was renamed or moved would guard nothing.
    names = {module.name for module in scan(ROOT)}
    missing = [
        rule.layer
        for rule in RULES
        if not rule.pending and not any(_matches(name, rule.layer) for name in names)
    ]
    assert not missing, f"rules over layers that do not exist: {missing}"


def _plant(base: pathlib.Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_catches_planted_violations(tmp_path: pathlib.Path) -> None:
    s = "server/agentmail_server"
    _plant(
        tmp_path,
        {
            f"{s}/__init__.py": "",
            f"{s}/errors.py": "",
            f"{s}/app.py": "import agentmail_server.metrics\n",
            f"{s}/metrics.py": "from agentmail_server.app import main\n",
            f"{s}/domain/__init__.py": "from . import models\n",
            f"{s}/domain/models.py": (
                "from agentmail_server import errors\n"
                "from . import names\n"
                "def f():\n"
                "    from ..storage import rows\n"
            ),
            f"{s}/storage/__init__.py": "",
            f"{s}/storage/ports.py": "from agentmail_server.domain.models import Message\n",
            f"{s}/storage/sqlite/__init__.py": (
                "from ..ports import Store\nfrom ... import hub\nimport agentmail_server.rpc\n"
            ),
            f"{s}/services/__init__.py": "",
            f"{s}/services/mail.py": (
                "from agentmail_server.storage.ports import Store\n"
                "from agentmail_server.storage import ports\n"
                "from agentmail_server.storage import ports_extra, sqlite\n"
                "async def send():\n"
                "    import agentmail_server.storage.sqlite.writer\n"
            ),
            f"{s}/hub.py": "if True:\n    from agentmail_server.storage.sqlite import Sent\n",
            f"{s}/rpc/__init__.py": "from agentmail_server.storage import ports\n",
            f"{s}/archive/__init__.py": "from .git import engine\n",
            f"{s}/archive/git/__init__.py": "",
            f"{s}/archive/git/engine.py": (
                "from . import trees\n"
                "from .. import _commits\n"
                "from agentmail_server import errors\n"
            ),
            f"{s}/config.py": "import agentmail_client\n",
            "clients/agentmail/v1/x_pb2.py": "import agentmail_server\n",
            "clients/agentmail_client/__init__.py": "from ._errors import NotFound\n",
            "clients/agentmail_client/_errors.py": "from agentmail_server.errors import NotFound\n",
            "clients/agentmail_cli/__init__.py": (
                "from agentmail_client import AgentmailClient, NotFound\n"
                "from agentmail_client import _errors\n"
                "from agentmail_client._transport import Connection\n"
                "from agentmail.v1 import types_pb2\n"
            ),
            "clients/agentmail_mcp/tools.py": "def run():\n    import agentmail_server.app\n",
            "clients/examples/demo.py": "from agentmail import v1\n",
        },
    )
    modules = scan(tmp_path)
    assert "agentmail.v1.x_pb2" not in {module.name for module in modules}
    why: dict[str, str] = {}
    for rule in RULES:  # a layer's first rule: later ones (such as admin's) add to it
        why.setdefault(rule.layer, rule.why)
    assert check_rules(modules) == [
        f"clients/agentmail_cli/__init__.py:2 imports agentmail_client._errors "
        f"(rule: {_FRONT_END})",
        f"clients/agentmail_cli/__init__.py:3 imports agentmail_client._transport.Connection "
        f"(rule: {_FRONT_END})",
        f"clients/agentmail_cli/__init__.py:4 imports agentmail.v1.types_pb2 (rule: {_FRONT_END})",
        "clients/agentmail_client/_errors.py:1 imports agentmail_server.errors.NotFound "
        f"(rule: {why[CLIENT]})",
        f"clients/agentmail_mcp/tools.py:2 imports agentmail_server.app (rule: {_FRONT_END})",
        f"clients/examples/demo.py:1 imports agentmail.v1 (rule: {why['examples']})",
        f"{s}/archive/git/engine.py:2 imports agentmail_server.archive._commits "
        f"(rule: {why[f'{SERVER}.archive.git']})",
        f"{s}/archive/git/engine.py:3 imports agentmail_server.errors "
        f"(rule: {why[f'{SERVER}.archive.git']})",
        f"{s}/config.py:1 imports agentmail_client (rule: {why[SERVER]})",
        f"{s}/domain/models.py:4 imports agentmail_server.storage.rows "
        f"(rule: {why[f'{SERVER}.domain']})",
        f"{s}/hub.py:2 imports agentmail_server.storage.sqlite.Sent (rule: {why[f'{SERVER}.hub']})",
        f"{s}/rpc/__init__.py:1 imports agentmail_server.storage.ports "
        f"(rule: {why[f'{SERVER}.rpc']})",
        f"{s}/services/mail.py:3 imports agentmail_server.storage.{{ports_extra, sqlite}} "
        f"(rule: {why[f'{SERVER}.services']})",
        f"{s}/services/mail.py:5 imports agentmail_server.storage.sqlite.writer "
        f"(rule: {why[f'{SERVER}.services']})",
        f"{s}/storage/sqlite/__init__.py:2 imports agentmail_server.hub "
        f"(rule: {why[f'{SERVER}.storage']})",
        f"{s}/storage/sqlite/__init__.py:3 imports agentmail_server.rpc "
        f"(rule: {why[f'{SERVER}.storage']})",
    ]
    assert check_cycles(modules) == [
        "agentmail_server.app -> agentmail_server.metrics -> agentmail_server.app: "
        f"{s}/app.py:1 (agentmail_server.app -> agentmail_server.metrics); "
        f"{s}/metrics.py:1 (agentmail_server.metrics -> agentmail_server.app)",
        "agentmail_server.domain -> agentmail_server.storage -> agentmail_server.domain: "
        f"{s}/domain/models.py:4 (agentmail_server.domain -> agentmail_server.storage); "
        f"{s}/storage/ports.py:1 (agentmail_server.storage -> agentmail_server.domain) "
        "(and more cycles through agentmail_server.hub, agentmail_server.rpc)",
    ]


def test_relative_imports_resolve_like_python() -> None:
    assert _absolute("a.b.c", False, 1, None) == "a.b"
    assert _absolute("a.b.c", False, 2, "x") == "a.x"
    assert _absolute("a.b", True, 1, "x") == "a.b.x"
    assert _absolute("a.b", True, 2, None) == "a"
    assert _absolute("a.b", False, 0, "q.r") == "q.r"
    assert not _matches("agentmail_client", "agentmail")
    assert _matches("agentmail.v1.types_pb2", "agentmail")
    assert not _matches("agentmail_client.Thing", "agentmail_client._*")
