"""The tests' own shape: test files sit in folders that mirror the package (plus e2e/,
project/ and local/), every folder is a package so same-named files never collide, and
no test module imports another: what tests share lives in tests.support."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
PACKAGE = TESTS.parent / "framework"
# Folders of tests that mirror no subpackage: end-to-end runs, the project as a whole
# (layers, packaging, README, start-up), the local-model tests, the shared helpers.
BESIDE = {"e2e", "project", "local", "support"}
DATA = {"fixtures", "golden", "__pycache__"}


def imports_of_tests(path: Path) -> list[str]:
    """The tests.* modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(TESTS.parent).parent.parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *filter(None, [node.module])])
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in found if name == "tests" or name.startswith("tests.")]


def shared(name: str) -> bool:
    return name in ("tests", "tests.support") or name.startswith("tests.support.")


def test_no_test_module_imports_another() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if DATA & set(path.relative_to(TESTS).parts):
            continue
        for name in imports_of_tests(path):
            if not shared(name):
                offenders.append(f"{path.relative_to(TESTS.parent)} imports {name}")
    assert not offenders, "move what is shared to tests/support/:\n" + "\n".join(offenders)


def test_test_folders_mirror_the_package_and_are_packages() -> None:
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir()} - DATA
    assert folders <= subpackages | BESIDE, folders - subpackages - BESIDE
    for folder in folders:
        assert (TESTS / folder / "__init__.py").is_file(), f"tests/{folder} has no __init__.py"
    assert not list(TESTS.glob("test_*.py")), "a test file belongs in the folder of its package"
