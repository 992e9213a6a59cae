"""Taxonomies beyond a provider's enum limit are asked by label number."""

from __future__ import annotations

import json
from pathlib import Path

from framework import Classifier
from framework.stub_server import Reply, StubServer
from tests.support import stub_overrides


def big_taxonomy(folder: Path, size: int) -> Path:
    lines = ["name: products", 'version: "3.1.0"', "none_label: other", "labels:"]
    lines += [f"  facet_{n}: {{description: 'Product facet number {n}'}}" for n in range(size)]
    lines += ["  other: {description: 'None of the facets'}"]
    (folder / "taxonomy").mkdir(parents=True, exist_ok=True)
    (folder / "taxonomy" / "products.yaml").write_text("\n".join(lines) + "\n")
    return folder


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
