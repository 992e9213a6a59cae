"""A built wheel carries conf/ and prompts/ and runs without the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import framework
from framework.testing import Reply, StubServer
from tests.support import REPO, stub_overrides


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0 and "hatchling" in built.stderr:
        pytest.skip("hatchling is not installed: pip install hatchling (the [dev] extra has it)")
    assert built.returncode == 0, built.stderr
    return next(out.glob("labelwise-*.whl"))


def test_wheel_contains_configs_and_prompts(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "framework/conf/config.yaml" in names
    assert "framework/conf/taxonomy/news.yaml" in names
    assert "framework/conf/provider/local.yaml" in names
    assert "framework/prompts/multilabel.v1.jinja" in names
    assert not any(name.startswith(("tests/", "conf/", "prompts/")) for name in names)


@pytest.mark.slow
def test_unpacked_wheel_classifies_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "1", "text": "Rocket launch"}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(site), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with StubServer(default=Reply(content='{"labels": ["space"]}')) as stub:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "framework",
                "classify",
                f"input={items}",
                f"output={tmp_path / 'out.jsonl'}",
                *stub_overrides(stub),
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=180,
        )
    assert result.returncode == 0, result.stderr
    row = json.loads((tmp_path / "out.jsonl").read_text())
    assert row["labels"] == ["space"]
    location = subprocess.run(
        [sys.executable, "-c", "import framework.resources as r; print(r.conf_dir())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert location.stdout.strip() == str(site / "framework" / "conf")


def test_exported_names() -> None:
    assert sorted(framework.__all__) == sorted(
        [
            "Classifier",
            "ConfigError",
            "InputError",
            "Item",
            "LabelwiseError",
            "OutputError",
            "Prediction",
            "ProviderError",
            "RunConfig",
            "Usage",
        ]
    )
    for name in framework.__all__:
        assert hasattr(framework, name)


def test_import_labelwise_gives_the_same_names_and_classify_for_frames() -> None:
    import labelwise

    assert sorted(labelwise.__all__) == sorted([*framework.__all__, "classify"])
    assert labelwise.Classifier is framework.Classifier
    assert labelwise.classify.__name__ == "classify_frame"


def test_import_labelwise_is_instant() -> None:
    """Like `import framework`: no engine, no pandas until a name is used."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, labelwise; print(sorted(m for m in ('litellm', 'pandas', 'polars', 'framework.engine') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr
