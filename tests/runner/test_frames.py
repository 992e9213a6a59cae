"""labelwise.classify on DataFrames (pandas and polars), against the stub: labels land on
their own rows (duplicate index values, nulls), wide columns, clear errors, and a rerun
answered from the cache."""

from __future__ import annotations

from typing import Any

import pandas as pd
import polars as pl
import pytest

import labelwise
from framework.errors import InputError
from framework.testing import Reply, StubServer
from tests.support import stub_overrides

TOPICS = {"rocket": "space", "genome": "science", "chip": "technology", "heat": "climate"}


def by_topic(body: dict[str, Any]) -> Reply:
    """Label a text by the keyword it holds, so a shifted row shows."""
    text = str(body["messages"][-1]["content"]).rsplit("<text>", 1)[-1].split("</text>")[0]
    label = next((label for word, label in TOPICS.items() if word in text), "none")
    return Reply(content=f'{{"labels": ["{label}"]}}')


@pytest.fixture
def topical() -> Any:
    with StubServer(responder=by_topic) as stub:
        yield stub


def run(frame: Any, stub: StubServer, **kw: Any) -> Any:
    return labelwise.classify(
        frame, overrides=[*stub_overrides(stub), "taxonomy=news"], progress=False, **kw
    )


TEXTS = ["a rocket lifts off", None, "the chip is fast", "a genome read", 7, "heat records"]


def test_pandas_labels_align_by_position_with_a_repeated_index_and_nulls(
    topical: StubServer,
) -> None:
    frame = pd.DataFrame({"text": TEXTS, "n": range(6)}, index=[3, 3, 3, 1, 1, 0])
    out = run(frame, topical)
    assert list(out.index) == [3, 3, 3, 1, 1, 0]
    assert list(out["n"]) == list(range(6))
    assert out["labels"].tolist()[0] == ["space"]
    assert out["labels"].tolist()[2] == ["technology"]
    assert out["labels"].tolist()[3] == ["science"]
    assert out["labels"].tolist()[5] == ["climate"]
    assert list(out["status"]) == ["ok", "failed", "ok", "ok", "failed", "ok"]
    assert pd.isna(out["labels"].iloc[1])  # a failed row's labels are unknown, not empty
    assert "has no text" in out["error"].iloc[1]
    assert "int" in out["error"].iloc[4]
    assert "text" in frame.columns and "labels" not in frame.columns  # the input is untouched


def test_polars_frames_get_the_same_columns(topical: StubServer) -> None:
    frame = pl.DataFrame({"body": ["a rocket", None, "heat wave"]})
    out = run(frame, topical, text="body")
    assert isinstance(out, pl.DataFrame)
    assert out["labels"].to_list() == [["space"], None, ["climate"]]
    assert out["status"].to_list() == ["ok", "failed", "ok"]


def test_wide_columns_hold_one_boolean_and_one_confidence_per_label(topical: StubServer) -> None:
    frame = pl.DataFrame({"text": ["a rocket", "a chip"]})
    out = run(
        frame,
        topical,
        columns="wide",
        **{"strategy__confidence": "self_consistency", "strategy__samples": 2},
    )
    assert out["label_space"].to_list() == [True, False]
    assert out["label_technology"].to_list() == [False, True]
    assert out["confidence_space"].to_list()[0] == 1.0
    assert {
        f"label_{label}" for label in ("space", "science", "technology", "climate", "none")
    } <= set(out.columns)


def test_a_rerun_makes_no_calls(topical: StubServer) -> None:
    frame = pd.DataFrame({"text": ["a rocket", "a genome", "a chip"]})
    first = run(frame, topical)
    calls = len(topical.requests)
    again = run(frame, topical)
    assert len(topical.requests) == calls == 3
    assert again["labels"].tolist() == first["labels"].tolist()


def test_an_id_column_names_the_rows_and_must_be_unique(topical: StubServer) -> None:
    frame = pd.DataFrame({"key": ["a", "b"], "text": ["a rocket", "heat"]})
    assert run(frame, topical, id="key")["labels"].tolist() == [["space"], ["climate"]]
    with pytest.raises(InputError, match="'a' at rows 0 and 1"):
        run(pd.DataFrame({"key": ["a", "a"], "text": ["x", "y"]}), topical, id="key")


@pytest.mark.parametrize("kind", [pd.DataFrame, pl.DataFrame])
def test_a_frame_without_the_text_column_is_a_clear_error(topical: StubServer, kind: Any) -> None:
    with pytest.raises(InputError, match=r"no column 'text' .*text=\.\.\."):
        run(kind({"body": ["x"]}), topical)
    assert topical.requests == []


def test_columns_it_would_overwrite_are_refused_and_a_prefix_avoids_them(
    topical: StubServer,
) -> None:
    frame = pd.DataFrame({"text": ["a rocket"], "labels": [["space"]]})
    with pytest.raises(InputError, match="prefix"):
        run(frame, topical)
    out = run(frame, topical, prefix="pred_")
    assert out["pred_labels"].tolist() == [["space"]]


def test_the_progress_bar_shows_rows(
    topical: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.DataFrame({"text": ["a rocket", "a chip"]})
    labelwise.classify(frame, overrides=[*stub_overrides(topical), "taxonomy=news"])
    assert "2/2" in capsys.readouterr().err


def test_an_open_classifier_labels_the_frame_and_stays_open(topical: StubServer) -> None:
    with labelwise.Classifier.from_config([*stub_overrides(topical), "taxonomy=news"]) as clf:
        assert clf.classify("a rocket").labels == ("space",)
        out = labelwise.classify(pd.DataFrame({"text": ["a chip"]}), classifier=clf, progress=False)
        assert out["labels"].tolist() == [["technology"]]
        assert clf.classify("heat").labels == ("climate",)


def test_a_missing_id_column_names_the_id_argument(topical: StubServer) -> None:
    with pytest.raises(InputError, match=r"no column 'key' .*id=\.\.\."):
        run(pd.DataFrame({"text": ["x"]}), topical, id="key")
