"""trained.combine=average and trained.cuts=cv: a model per feature set, averaged, and
per-label cuts chosen on the pool's cross-fitted scores.

The vectors here are the pool's cue words counted per topic and scaled to unit length:
real features a model can learn from, made without an embedding model so a fit takes
milliseconds (the local embedding model has its own tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from framework.config.schema import TrainedModelSettings
from framework.errors import ConfigError
from framework.learning.ensemble import best_cuts, on_cut_scale
from framework.learning.trained import TrainedModel, fit_model
from framework.records import Item
from tests.support.news_pool import CUES, LABELS, pool_rows


def topic_vectors(texts: list[str]) -> np.ndarray:
    """Per text, how many of each topic's cue words it holds, at unit length."""
    found = np.array(
        [[sum(word in cues for word in text.split()) for cues in CUES.values()] for text in texts],
        dtype=float,
    )
    found += 0.01  # a text with no cue word still has a direction
    return found / np.linalg.norm(found, axis=1, keepdims=True)


def fit(rows: list[dict[str, object]], **settings: object) -> TrainedModel:
    triples = [(str(r["id"]), str(r["text"]), list(r["labels"])) for r in rows]  # type: ignore[call-overload]
    return fit_model(
        triples,
        LABELS,
        TrainedModelSettings(use="alone", pool="p", **settings),  # type: ignore[arg-type]
        pool_sha256="0" * 64,
        embed=topic_vectors,
    )


def test_an_averaged_model_is_the_mean_of_one_model_per_feature_set(tmp_path: Path) -> None:
    model = fit(pool_rows(150), features="both", combine="average")
    assert len(model.full) == 2 and all(len(members) == 2 for members in model.by_fold)
    text = "rocket orbit today report"
    vector = topic_vectors([text])[0]
    got = model.probabilities(Item("new", text), vector)
    each = [member.predict_proba([(text, vector)])[0] for member in model.full]
    assert [got[label] for label in LABELS] == pytest.approx(list((each[0] + each[1]) / 2))
    assert got["space"] == max(got.values()) and got["space"] > 0.5
    assert model.describe()["combine"] == "average"
    path = tmp_path / "model.skops"
    model.save(path)
    loaded = TrainedModel.load(path)
    assert loaded.probabilities(Item("new", text), vector) == got
    assert 0 < loaded.similarity(Item("new", text), vector) <= 1 + 1e-6


def test_cv_cuts_move_each_labels_best_cut_to_one_half(tmp_path: Path) -> None:
    rows = pool_rows(200)
    plain = fit(rows)
    cut = fit(rows, cuts="cv")
    assert plain.cuts is None and cut.cuts is not None and len(cut.cuts) == len(LABELS)
    assert cut.describe()["cuts"] == dict(zip(LABELS, cut.cuts, strict=True))
    # The pool's cross-fitted scores, mapped: at 0.5 they decide as the cuts did before.
    for n, label_cut in enumerate(cut.cuts):
        assert ((cut.pool_scores[:, n] >= 0.5) == (plain.pool_scores[:, n] >= label_cut)).all()
    item = Item("new", "carbon drought today")
    raw = plain.probabilities(item)
    mapped = cut.probabilities(item)
    for n, label in enumerate(LABELS):
        assert mapped[label] == pytest.approx(
            float(on_cut_scale([[raw[label]]], [cut.cuts[n]])[0][0])
        )
    path = tmp_path / "model.skops"
    cut.save(path)
    assert TrainedModel.load(path).cuts == cut.cuts


def test_the_cut_scale_keeps_the_order_and_the_ends() -> None:
    scores = np.array([[0.0, 0.0], [0.1, 0.3], [0.2, 0.6], [1.0, 1.0]])
    mapped = on_cut_scale(scores, [0.2, 0.6])
    assert mapped[:, 0].tolist() == pytest.approx([0.0, 0.25, 0.5, 1.0])
    assert mapped[:, 1].tolist() == pytest.approx([0.0, 0.25, 0.5, 1.0])
    assert (np.diff(on_cut_scale(np.linspace(0, 1, 50)[:, None], [0.07]), axis=0) >= 0).all()


def test_best_cuts_stay_inside_their_bounds_and_leave_a_label_no_row_has_at_one_half() -> None:
    scores = np.array([[0.01, 0.2], [0.02, 0.9], [0.03, 0.1], [0.04, 0.8]])
    gold = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    cuts = best_cuts(scores, gold)
    assert 0.05 <= cuts[0] <= 0.95 and cuts[1] == pytest.approx(0.8)
    assert best_cuts(scores, np.zeros((4, 2), dtype=int)).tolist() == [0.5, 0.5]


def test_an_average_of_one_feature_set_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    from framework.config.load import compose, load_run_config

    pool = tmp_path / "pool.jsonl"
    pool.write_text("")
    with pytest.raises(ConfigError, match=r"trained.combine: average needs two feature sets"):
        load_run_config(
            compose(["taxonomy=news", f"trained.pool={pool}", "trained.combine=average"])
        )


def test_tune_searches_the_combination_and_the_cuts_where_they_apply() -> None:
    from framework.config.tune_settings import TuneSettings

    settings = TuneSettings.from_overrides(
        [
            "tune.examples=[none]",
            "tune.trained=[off,alone]",
            "tune.features=[tfidf,both]",
            "tune.combine=[one,average]",
            "tune.cuts=[fixed,cv]",
        ]
    )
    names = [recipe.name for recipe in settings.recipes(pool="dev.jsonl")]
    assert names == [
        "labels_array.no-examples.trained-off",
        "labels_array.no-examples.trained-alone",  # the names recipes had before
        "labels_array.no-examples.trained-alone-cv",
        "labels_array.no-examples.trained-alone-both",
        "labels_array.no-examples.trained-alone-both-cv",
        "labels_array.no-examples.trained-alone-both-average",  # never tfidf averaged alone
        "labels_array.no-examples.trained-alone-both-average-cv",
    ]
    last = settings.recipes(pool="dev.jsonl")[-1].overrides
    assert {"trained.features=both", "trained.combine=average", "trained.cuts=cv"} <= set(last)
    with pytest.raises(ConfigError, match=r"tune.combine"):
        TuneSettings.from_overrides(["tune.combine=[stacked]"])
