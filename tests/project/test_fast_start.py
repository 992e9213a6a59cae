"""A fast start: what `import framework`, `labelwise --help`, `lint` and a run on the HTTP
transport import. litellm (2-4 s to import here), the batch machinery, scikit-learn and
Hydra are imported by the runs that use them, not by every process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from framework.testing import StubServer
from tests.support import REPO, cli_env

HEAVY = ("litellm", "framework.providers.transports.batch", "framework.providers.batch.jobs")


def imported(*argv: str, cwd: Path = REPO) -> set[str]:
    """The modules a `python -X importtime ARGV` process imported (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_import_framework_imports_no_library_of_weight() -> None:
    found = imported("-c", "import framework, framework.cli.main")
    for heavy in (*HEAVY, "hydra", "pydantic", "sklearn", "numpy", "omegaconf"):
        assert heavy not in found, heavy


def test_help_imports_neither_litellm_nor_hydra() -> None:
    found = imported("-m", "framework", "--help")
    assert not {"litellm", "hydra", "sklearn"} & found


def test_lint_imports_neither_litellm_nor_the_batch_machinery() -> None:
    found = imported("-m", "framework", "lint")
    assert not set(HEAVY) & found


@pytest.mark.slow
def test_a_run_on_the_http_transport_imports_neither_litellm_nor_the_batch_machinery(
    tmp_path: Path,
) -> None:
    with StubServer() as stub:
        found = imported(
            "-m",
            "framework",
            "classify",
            f"input={REPO / 'examples' / 'news' / 'items.jsonl'}",
            "provider=openai_compatible",
            f"provider.api_base={stub.url}",
            "model.name=stub-model",
            f"hydra.run.dir={tmp_path / 'run'}",
        )
    assert not set(HEAVY) & found
    assert (tmp_path / "run" / "results.jsonl").is_file()


def test_the_batch_machinery_is_imported_by_a_batch_run_only() -> None:
    """The guard above holds because the modules are imported where a batch run needs
    them: the batch driver's module itself stays importable without them."""
    found = imported("-c", "import framework.runner.drivers, framework.runner.estimate")
    assert not set(HEAVY) & found
