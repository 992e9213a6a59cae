"""The package's layers keep their order: a module imports only from its own layer or
the ones below it, subpackages import no cycle, and exactly one module imports litellm.

    cli                   the command line (commands import no other command)
    evaluation            metrics, reports, calibration: what a finished run is read for
    runner                the journal, drivers (how a file's rows run), progress, plans, the
                          run record
    engine                one item in, one Prediction out; its components; the Classifier
    learning              what is fit on labeled rows: the trained model, the cascade's gate,
                          the examples index, distillation's teacher, their files
    providers             profiles, compiled requests, transports, the local server
    labels                the label set, validation, decisions, lint, thresholds
    inputs                the rows a run reads: one reader per input kind, labeled pools
    config                typed schemas and their loading
    base                  errors, records, results, secrets, resources, digests

Imports under `if TYPE_CHECKING:` are left out: they name types, they do not run.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "framework"
LAYERS = [
    "base",
    "config",
    "inputs",
    "labels",
    "providers",
    "learning",
    "engine",
    "runner",
    "evaluation",
    "cli",
]
# Tools beside the layers: they use the package and nothing in it uses them.
OUTSIDE = {"framework", "framework.__main__", "framework.stub_server"}


def layer_of(module: str) -> str:
    """framework.providers.transports.cache -> providers; framework.errors -> base."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else "base"


def runtime_imports(path: Path) -> set[str]:
    """The framework modules a file imports when it runs (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("framework"):
            found.add(node.module)
            found.update(
                f"{node.module}.{a.name}" for a in node.names if _is_module(node.module, a.name)
            )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("framework"))
    return found


def _is_module(package: str, name: str) -> bool:
    base = PACKAGE.parent / package.replace(".", "/")
    return (base / f"{name}.py").is_file() or (base / name / "__init__.py").is_file()


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        dotted = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[dotted.removesuffix(".__init__")] = path
    return found


@pytest.mark.parametrize("module", sorted(modules()), ids=str)
def test_a_module_imports_only_its_own_layer_or_lower(module: str) -> None:
    if module in OUTSIDE:
        return
    mine = LAYERS.index(layer_of(module))
    for imported in runtime_imports(modules()[module]):
        if imported in OUTSIDE:
            continue
        theirs = LAYERS.index(layer_of(imported))
        assert theirs <= mine, f"{module} ({LAYERS[mine]}) imports {imported} ({LAYERS[theirs]})"


def test_the_layers_know_every_subpackage() -> None:
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages <= set(LAYERS), subpackages - set(LAYERS)


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    known = modules()
    for module, path in known.items():
        graph[module] = {m for m in runtime_imports(path) if m in known and m != module}
    seen: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for module in sorted(known):
        if module not in seen:
            visit(module, [module])


def test_commands_import_no_other_command() -> None:
    commands = {m for m in modules() if m.startswith("framework.cli.commands.")}
    for module in commands:
        others = runtime_imports(modules()[module]) & (commands - {module})
        allowed = {"framework.cli.commands.hydra_app"}  # the Hydra runner, not a command
        assert others <= allowed, f"{module} imports {others - allowed}"


def test_exactly_one_module_imports_litellm() -> None:
    importers = []
    for module, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "litellm" or n.startswith("litellm.") for n in names):
                importers.append(module)
                break
    assert importers == ["framework.providers.litellm_api"]
