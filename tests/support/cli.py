"""The CLI as a user runs it: `labelwise ARGS` in a subprocess, the commands tests build,
and numbers read off what it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from framework.testing import StubServer
from tests.support import REPO, cli_env, stub_overrides

NEWS = REPO / "examples" / "news" / "items.jsonl"


def labelwise(
    *args: str, cwd: Path = REPO, timeout: float = 240, **env: str
) -> subprocess.CompletedProcess[str]:
    """`labelwise ARGS` in a subprocess (python -m framework), its output captured as
    text; the environment is this process's (cli_env) plus `env`."""
    return subprocess.run(
        [sys.executable, "-m", "framework", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(**env),
        timeout=timeout,
    )


def tune_command(stub: StubServer, dev: Path, out: Path, *extra: str) -> list[str]:
    """`labelwise tune` of the news pool `dev` against the stub, its experiment to `out`."""
    return [
        sys.executable,
        "-m",
        "framework",
        "tune",
        f"input={dev}",
        *stub_overrides(stub),
        "taxonomy=news",
        "validation=lenient",
        "tune.calibrate_rows=60",
        "tune.score_rows=60",
        "tune.examples=[none]",
        f"tune.out={out}",
        *extra,
    ]


def numbers(text: str, label: str) -> list[int]:
    """The numbers on the first line of `text` that starts with `label` (plan, summary)."""
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", line.split(label, 1)[1])]
