"""What a tracker is given of a run: the store it goes to, params cut to what a store takes,
metric keys a store accepts, per-label figures by label."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.config.observe_settings import TrackingSettings
from framework.integrations.mlflow_worker import _fit
from framework.integrations.run_folder import flatten, metric_key
from framework.integrations.tracking import tracking_uri


@pytest.mark.parametrize(
    "uri, environ, expected",
    [
        (None, {}, (Path.cwd() / "mlruns").as_uri()),
        (None, {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}, "http://127.0.0.1:5000"),
        ("runs/here", {"MLFLOW_TRACKING_URI": "http://x"}, (Path.cwd() / "runs/here").as_uri()),
        ("file:///tmp/store", {}, "file:///tmp/store"),
        ("https://mlflow.example/", {}, "https://mlflow.example/"),
        ("databricks", {}, "databricks"),  # MLflow's name for a workspace, not a folder
    ],
)
def test_the_store_a_run_goes_to(uri: str | None, environ: dict[str, str], expected: str) -> None:
    assert tracking_uri(TrackingSettings(kind="mlflow", uri=uri), environ) == expected


def test_a_value_longer_than_the_store_takes_is_cut_and_says_so() -> None:
    assert _fit("short", 500) == "short"
    cut = _fit("x" * 7000, 500)
    assert len(cut) == 500 and cut.endswith("... (7000 characters)")


def test_metric_keys_keep_what_mlflow_takes() -> None:
    assert metric_key("per_label.space.f1") == "per_label.space.f1"
    assert metric_key("per_label.sci+fi (new).f1") == "per_label.sci_fi _new_.f1"


def test_flatten_makes_dotted_keys_and_keeps_lists_whole() -> None:
    tree = {"model": {"name": "m", "gguf": {"parts": ["a", "b"]}}, "input": None, "empty": {}}
    assert flatten(tree) == {
        "model.name": "m",
        "model.gguf.parts": ["a", "b"],
        "input": None,
        "empty": {},
    }
