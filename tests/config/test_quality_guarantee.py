"""quality.guarantee (rate | realised) and quality.output_rows: bad values exit 2 naming
the key; realised learns the output's size from the input where it can be counted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from framework.config.load import compose, load_run_config
from framework.config.schema import RunConfig
from framework.engine.components.route_record import floors_of
from framework.errors import ConfigError
from tests.support import REPO, write_jsonl

LABELS = ["space", "science"]


def loaded(*overrides: str) -> RunConfig:
    return load_run_config(compose(list(overrides)))


def test_a_bad_guarantee_exits_2_naming_the_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "framework",
            "classify",
            "quality.guarantee=sometimes",
            "input=examples/news/items.jsonl",
            f"hydra.run.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "quality.guarantee" in result.stderr and "realised" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["quality.guarantee=realised", "quality.llm_rows=50"], "quality.guarantee"),
        (["quality.guarantee=realised", "quality.f1_within=0.1"], "quality.guarantee"),
        (["quality.output_rows=0"], "quality.output_rows"),
    ],
)
def test_realised_with_what_it_cannot_certify_is_refused(
    overrides: list[str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        loaded(*overrides)
    assert expected in str(caught.value)


def test_rate_is_the_default_and_its_floors_are_todays() -> None:
    floors = floors_of(loaded("quality.precision=0.8"), LABELS)
    assert floors.guarantee == "rate" and floors.output_rows is None
    assert floors.precision == floors.recall == {"space": 0.8, "science": 0.8}


def test_realised_counts_the_input_rows(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": str(n), "text": "t"} for n in range(37)])
    base = ["quality.precision=0.8", "quality.guarantee=realised", f"input={source}"]
    assert floors_of(loaded(*base), LABELS).output_rows == 37
    sampled = loaded(*base, "sample.size=10")
    assert floors_of(sampled, LABELS).output_rows == 10
    given = loaded(*base, "quality.output_rows=5")
    assert floors_of(given, LABELS).output_rows == 5


def test_realised_asks_for_the_count_when_the_input_cannot_be_counted(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,a\n2,b\n", encoding="utf-8")
    config = loaded("quality.precision=0.8", "quality.guarantee=realised", f"input={source}")
    with pytest.raises(ConfigError, match=r"quality\.output_rows: .*set quality\.output_rows=N"):
        floors_of(config, LABELS)
