"""Taxonomies beyond a provider's enum limit are asked by label number, and linted in
seconds, not hours."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from framework import Classifier
from framework.labels.alike import EVERY_PAIR_LIMIT, Alike, alike_names
from framework.labels.lint import lint_taxonomy
from framework.testing import Reply, StubServer
from tests.support import run_cli, stub_overrides
from tests.support.taxonomies import big_taxonomy


def test_a_taxonomy_over_the_enum_limit_is_asked_by_number(
    stub: StubServer, tmp_path: Path
) -> None:
    conf = big_taxonomy(tmp_path, 700)
    stub.enqueue(Reply(content=json.dumps({"labels": [3, 517]})))
    overrides = stub_overrides(stub, f"hydra.searchpath=[file://{conf}]", "taxonomy=products")
    with Classifier.from_config(overrides) as classifier:
        assert classifier.engine.label_keys.by_index
        assert (
            "700" in classifier.engine.label_keys.reason
            or "701" in classifier.engine.label_keys.reason
        )
        prediction = classifier.classify("a kettle with a long spout")
    assert prediction.labels == ("facet_3", "facet_517")
    sent = stub.requests[0]
    items = sent["response_format"]["json_schema"]["schema"]["properties"]["labels"]["items"]
    assert items == {"type": "integer", "minimum": 0, "maximum": 700}
    assert "- 517 (facet_517): Product facet number 517" in sent["messages"][-1]["content"]


def test_a_taxonomy_within_the_limit_is_asked_by_id(stub: StubServer, tmp_path: Path) -> None:
    conf = big_taxonomy(tmp_path, 20)
    stub.enqueue(Reply(content=json.dumps({"labels": ["facet_3"]})))
    overrides = stub_overrides(stub, f"hydra.searchpath=[file://{conf}]", "taxonomy=products")
    with Classifier.from_config(overrides) as classifier:
        assert not classifier.engine.label_keys.by_index
        assert classifier.classify("x").labels == ("facet_3",)
    items = stub.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["labels"][
        "items"
    ]
    assert "facet_19" in items["enum"]


def test_a_number_out_of_range_is_asked_again(stub: StubServer, tmp_path: Path) -> None:
    conf = big_taxonomy(tmp_path, 600)
    stub.enqueue(Reply(content='{"labels": [9999]}'), Reply(content='{"labels": [600]}'))
    overrides = stub_overrides(stub, f"hydra.searchpath=[file://{conf}]", "taxonomy=products")
    with Classifier.from_config(overrides) as classifier:
        prediction = classifier.classify("x")
    assert prediction.labels == ("other",) and prediction.attempts == 2
    assert "9999 is not one of the labels" in stub.requests[1]["messages"][-1]["content"]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_lint_of_a_10000_label_taxonomy_finishes(tmp_path: Path) -> None:
    conf = big_taxonomy(tmp_path, 10_000)
    # Comparing every pair of names had not finished after 300 s; Hydra's own reading of the
    # file is most of the time now (the checks take about a second).
    lint = ["lint", f"hydra.searchpath=[file://{conf}]", "taxonomy=products"]
    result = run_cli([sys.executable, "-m", "framework", *lint], timeout=300)
    assert result.returncode == 1, result.stderr  # warnings only
    assert "warning  labels  10001 labels on offer; keep a flat set to 30 at most" in result.stdout
    assert "nearest neighbours only" in result.stdout
    assert "\nwarning  labels.facet_10  reads like 'facet_0' (0.93 alike)\n" in result.stdout
    assert result.stdout.rstrip().endswith("in products 3.1.0")
    assert re.search(r"\n0 errors, \d+ warnings in products", result.stdout)


@pytest.mark.timeout(120)
def test_lint_of_a_chain_of_10000_parents_is_linear() -> None:
    labels: dict[str, Any] = {
        f"l{i}": {"description": f"Step {i} of the chain", "parent": f"l{i - 1}" if i else None}
        for i in range(10_000)
    }
    raw = {"name": "t", "version": "1", "allow_empty": True, "labels": labels}
    assert not [f for f in lint_taxonomy(raw) if f.level == "error"]
    labels["l0"]["parent"] = "l9999"  # now a cycle through every label
    errors = [f for f in lint_taxonomy(raw) if f.level == "error"]
    assert [(f.key, f.message) for f in errors] == [
        (
            "labels.l0.parent",
            "the parents form a cycle: l0 -> l9999 -> l9998 -> l9997 -> l9996 -> l9995 -> "
            "l9994 -> l9993 -> ... (10000 labels) -> l1 -> l0",
        )
    ]


def test_names_past_the_every_pair_limit_are_compared_with_their_neighbours() -> None:
    names = [{f"product line {n:04d}"} for n in range(EVERY_PAIR_LIMIT + 1)]
    names.append({"refund"})
    names.append({"refunds"})
    found = alike_names(names, 0.85)
    last = len(names) - 1
    assert Alike(last - 1, last, pytest.approx(0.92, abs=0.01)) in found
    assert len({x.second for x in found}) == len(found), "each label once"
