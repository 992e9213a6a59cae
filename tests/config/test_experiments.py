"""Experiment presets (conf/experiment/) and the GoEmotions-Ekman taxonomy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.config.load import compose, load_run_config
from framework.inputs.sampling import sample_rows
from framework.resources import conf_dir
from framework.testing import Reply, StubServer
from tests.support import REPO, stub_overrides
from tests.support.cli import labelwise

GOEMOTIONS = REPO / "examples" / "goemotions_ekman"
EKMAN = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


@pytest.mark.parametrize("path", sorted((conf_dir() / "experiment").glob("*.yaml")), ids=str)
def test_every_preset_is_global_and_composes(path: Path) -> None:
    assert path.read_text().startswith("# @package _global_\n")
    config = load_run_config(compose([f"+experiment={path.stem}"]))
    assert config.input


def test_the_goemotions_preset() -> None:
    config = load_run_config(compose(["+experiment=goemotions_ekman"]))
    assert (config.provider.kind, config.model.name) == ("local", "qwen2.5-coder-1.5b")
    assert config.input == "examples/goemotions_ekman/dev.jsonl"
    assert (REPO / config.input).is_file()  # shipped in the repository, not beside it
    assert (config.sample.size, config.sample.seed) == (300, 0)
    taxonomy = config.taxonomy
    assert sorted(label.id for label in taxonomy.labels) == EKMAN
    assert taxonomy.none_label == "neutral"
    assert all(label.description and label.examples for label in taxonomy.labels)
    resized = load_run_config(
        compose(
            ["+experiment=goemotions_ekman", "sample.size=50", "sample.seed=2", "provider=openai"]
        )
    )
    assert (resized.sample.size, resized.sample.seed, resized.provider.kind) == (50, 2, "openai")


def test_the_news_smoke_preset_points_at_the_bundled_examples() -> None:
    config = load_run_config(compose(["+experiment=news_smoke"]))
    assert config.taxonomy.name == "news" and config.provider.kind == "local"
    assert (REPO / str(config.input)).is_file()


def test_sample_size_must_be_positive() -> None:
    from framework.errors import ConfigError

    with pytest.raises(ConfigError, match=r"sample\.size"):
        load_run_config(compose(["sample.size=0"]))


def test_the_taxonomy_has_the_datas_labels() -> None:
    assert (GOEMOTIONS / "labels.txt").read_text().split() == EKMAN
    rows = [json.loads(line) for line in (GOEMOTIONS / "dev.jsonl").open(encoding="utf-8")]
    assert len(rows) == 5426 and len({row["id"] for row in rows}) == 5426
    assert {label for row in rows for label in row["labels"]} == set(EKMAN)
    assert "CC BY 4.0" in (GOEMOTIONS / "README.md").read_text()


@pytest.mark.slow
def test_the_goemotions_preset_runs_end_to_end_on_a_sample(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["joy"]}))
    with (GOEMOTIONS / "dev.jsonl").open("rb") as source:
        lines = sample_rows(source, 30, seed=0)
    sample = tmp_path / "sample.jsonl"
    sample.write_bytes(b"".join(lines))
    run = tmp_path / "run"
    result = labelwise(
        "classify",
        "+experiment=goemotions_ekman",
        f"input={sample}",
        "sample.size=null",
        *stub_overrides(stub),
        f"hydra.run.dir={run}",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["scored"] == 30 and sorted(metrics["labels"]) == EKMAN
    assert metrics["none_label"] == "neutral"
    record = json.loads((run / "record.json").read_text())
    assert record["taxonomy"]["name"] == "goemotions_ekman"
    assert "(text not available)" not in (run / "report.md").read_text()
