"""The package's layers keep their order: a module imports only from its own layer or
the ones below it, subpackages import no cycle, and exactly one module imports litellm.

    cli                   the command line (commands import no other command)
    evaluation            metrics, reports, calibration: what a finished run is read for
    serve                 `labelwise serve`: the HTTP service over the run's engine
    runner                the journal, drivers (how a file's rows run), progress, plans, the
                          run record
    engine                one item in, one Prediction out; its components; the Classifier
    learning              what is fit on labeled rows: the trained model, the cascade's gate,
                          the examples index, distillation's teacher, their files
    providers             profiles, compiled requests, transports, the local server
    labels                the label set, validation, decisions, lint, thresholds
    inputs                the rows a run reads: one reader per input kind, labeled pools
    integrations          what watches runs from outside: tracking (MLflow), tracing
                          (OpenTelemetry), behind one table of observers
    config                typed schemas and their loading
    base                  errors, records, results, secrets, resources, digests

Beside the layers, `testing` (the stub server a user runs to try a config with no key)
uses only base modules, and nothing in the package imports it but its two doors: the
`labelwise stub` command and the old module name framework.stub_server.

Imports under `if TYPE_CHECKING:` are left out: they name types, they do not run.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "framework"
LAYERS = [
    "base",
    "config",
    "integrations",
    "inputs",
    "labels",
    "providers",
    "learning",
    "engine",
    "runner",
    "evaluation",
    "serve",
    "cli",
]
# Tools beside the layers: they use the package and nothing in it uses them.
OUTSIDE = {"framework", "framework.__main__", "framework.stub_server"}
TESTING = "framework.testing"
# The modules that may import framework.testing: the command and the old name.
TESTING_DOORS = {"framework.cli.commands.stub", "framework.stub_server"}


def layer_of(module: str) -> str:
    """framework.providers.transports.cache -> providers; framework.integrations (a
    package's own __init__) -> integrations; framework.errors -> base."""
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in LAYERS else "base"


def runtime_imports(path: Path, *, type_checking: bool = False) -> set[str]:
    """The framework modules a file imports when it runs (TYPE_CHECKING blocks left out,
    unless `type_checking`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if type_checking:
            break
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


def in_testing(module: str) -> bool:
    return module == TESTING or module.startswith(f"{TESTING}.")


OUTSIDE |= {module for module in modules() if in_testing(module)}


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
    known = {*LAYERS, TESTING.removeprefix("framework.")}
    assert subpackages <= known, subpackages - known


def test_the_testing_package_imports_only_base_modules() -> None:
    testing = [module for module in modules() if in_testing(module)]
    assert TESTING in testing
    for module in testing:
        for imported in runtime_imports(modules()[module]):
            if in_testing(imported):
                continue
            assert layer_of(imported) == "base", f"{module} imports {imported}"
            assert imported not in OUTSIDE, f"{module} imports {imported}"


def test_nothing_in_the_package_imports_the_testing_package_but_its_doors() -> None:
    for module, path in modules().items():
        if in_testing(module) or module in TESTING_DOORS:
            continue
        found = {imported for imported in runtime_imports(path) if in_testing(imported)}
        assert not found, f"{module} imports {found}"


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    known = modules()
    for module, path in known.items():
        graph[module] = {m for m in runtime_imports(path) if m in known and m != module}
    assert_no_cycle(graph)


def test_the_testing_package_has_no_cycle_even_in_its_type_hints() -> None:
    """Its routes see the server through a Protocol (framework.testing.reply.Host)."""
    known = {m: path for m, path in modules().items() if in_testing(m)}
    assert TESTING in known
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        imported = runtime_imports(path, type_checking=True)
        graph[module] = {m for m in imported if m in known and m != module}
    assert_no_cycle(graph)


def assert_no_cycle(graph: dict[str, set[str]]) -> None:
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

    for module in sorted(graph):
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


# One door per kind of feature: a component is reached through the engine's table
# (framework.engine.components), a driver through the runner's (framework.runner.drivers),
# an input kind through the readers' (framework.inputs.readers); nothing else names one.
DOORS = {
    "framework.engine.components": "framework.engine.components.",
    "framework.runner.drivers": "framework.runner.drivers.",
}


@pytest.mark.parametrize("table, prefix", sorted(DOORS.items()))
def test_components_and_drivers_are_reached_only_through_their_table(
    table: str, prefix: str
) -> None:
    for module, path in modules().items():
        if module == table or module.startswith(prefix):
            continue
        reached = {m for m in runtime_imports(path) if m.startswith(prefix)}
        assert not reached, f"{module} imports {reached}: go through {table}"


def test_the_engine_and_the_runner_check_no_feature_setting() -> None:
    """The engine's hall, the run, the record, the plan, the totals, the progress and the
    summary read components and drivers, never a feature's settings."""
    halls = [
        "framework.engine.engine",
        "framework.runner.run",
        "framework.runner.recorder",
        "framework.runner.estimate",
        "framework.runner.totals",
        "framework.runner.progress",
        "framework.cli.commands.classify",
    ]
    features = re.compile(
        r"config\.(trained|examples|embeddings|cascade|distill|batch|ray)\b"
        r"|\.run\.(mode|executor|workers)\b"
    )
    for module in halls:
        found = features.findall(modules()[module].read_text(encoding="utf-8"))
        assert not found, f"{module} checks {found}: the feature belongs behind a seam"
