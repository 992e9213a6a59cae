"""Helpers shared by the tests: a test module imports from here, never from another test
module (tests/project/test_test_layout.py holds it).

Here: the CLI in a subprocess (run_cli, classify_command, cli_env), the overrides that
point a run at the stub (stub_overrides), JSONL files, golden files. Beside it:

    tests.support.cli            `labelwise ARGS` in a subprocess, tune's command, NEWS
    tests.support.news_pool      a made-up labeled news pool, and what learns from it
    tests.support.batch_runs     run.mode=batch against the stub
    tests.support.reports        runs scored on something; a hostile text
    tests.support.leaks          a secret, and the check that no file holds it
    tests.support.taxonomies     taxonomies written for a test
    tests.support.processes      processes a test started
    tests.support.local_models   the GGUF models the local-model tests use
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from framework.testing import StubServer

REPO = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess, read when called so that the
    per-test cache directory (conftest's LABELWISE_CACHE_DIR) is the one used."""
    return {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **extra}


def classify_command(
    source: Path | str, output: Path, stub: StubServer, run: Path, *extra: str
) -> list[str]:
    """`labelwise classify` of source into output against the stub, run folder `run`."""
    return [
        sys.executable,
        "-m",
        "framework",
        "classify",
        f"input={source}",
        f"output={output}",
        *stub_overrides(stub),
        f"hydra.run.dir={run}",
        *extra,
    ]


def run_cli(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository, its output captured as text."""
    return subprocess.run(
        args, cwd=REPO, env=env or cli_env(), capture_output=True, text=True, timeout=timeout
    )


def stub_overrides(server: StubServer, *extra: str) -> list[str]:
    """Overrides that point a run at the stub as an OpenAI-compatible server."""
    return [
        "provider=openai_compatible",
        f"provider.api_base={server.url}",
        "model.name=stub-model",
        "run.retry.base_delay=0",
        *extra,
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


GOLDEN = REPO / "tests" / "golden"


def assert_golden(name: str, value: Any) -> None:
    """Compare with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it (review the diff)."""
    import os

    path = GOLDEN / name
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"
