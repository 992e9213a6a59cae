"""Inputs and outputs in JSONL, CSV and Parquet, streamed."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework import Classifier
from framework.config.schema import ColumnNames
from framework.errors import InputError
from framework.inputs.readers import count_rows, read_rows
from framework.runner.run import classify_file
from framework.testing import Reply, StubServer
from tests.support import read_jsonl, stub_overrides, write_jsonl

ROWS = [
    {"id": "a", "text": "rocket", "labels": ["space"]},
    {"id": "b", "text": "heat, wave", "labels": ["climate", "science"]},
    {"id": "c", "text": 'a "quoted"\nline', "labels": []},
]


def write_csv(path: Path, rows: list[dict], labels: str = "json") -> Path:  # type: ignore[type-arg]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "text", "labels"])
        writer.writeheader()
        for row in rows:
            cell = json.dumps(row["labels"]) if labels == "json" else "|".join(row["labels"])
            writer.writerow({**row, "labels": cell})
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:  # type: ignore[type-arg]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    return path


@pytest.mark.parametrize("kind", ["jsonl", "csv-json", "csv-pipes", "parquet"])
def test_every_format_reads_the_same_items(tmp_path: Path, kind: str) -> None:
    if kind == "jsonl":
        path = write_jsonl(tmp_path / "in.jsonl", ROWS)
    elif kind.startswith("csv"):
        path = write_csv(tmp_path / "in.csv", ROWS, labels=kind.split("-")[1])
    else:
        path = write_parquet(tmp_path / "in.parquet", ROWS)
    items = [row.item for row in read_rows(path)]
    assert [(i.id, i.text) for i in items if i] == [(r["id"], r["text"]) for r in ROWS]
    golds = [i.gold for i in items if i]
    assert golds[:2] == [("space",), ("climate", "science")]
    assert golds[2] in ((), None)  # an empty CSV cell means no gold


def test_column_names_come_from_config(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"key": 7, "body": "hello", "gold": ["x"]}])
    rows = list(read_rows(path, ColumnNames(id="key", text="body", labels="gold")))
    assert rows[0].item is not None and rows[0].item.id == "7" and rows[0].item.gold == ("x",)


def test_missing_text_column_is_an_input_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", ROWS)
    with pytest.raises(InputError, match=r"no 'body' column .* columns\.text=NAME"):
        list(read_rows(path, ColumnNames(text="body")))


def test_unknown_extension_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("x")
    with pytest.raises(InputError, match=r"unknown format \.txt"):
        list(read_rows(path))


def test_row_counts(tmp_path: Path) -> None:
    assert count_rows(write_jsonl(tmp_path / "in.jsonl", ROWS)) == 3
    assert count_rows(write_parquet(tmp_path / "in.parquet", ROWS)) == 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_csv_and_parquet_outputs_hold_one_row_per_id(
    stub: StubServer, tmp_path: Path, suffix: str
) -> None:
    stub.default = Reply(content='{"labels": ["space"]}')
    source = write_parquet(tmp_path / "in.parquet", ROWS)
    output = tmp_path / f"out{suffix}"
    with Classifier.from_config(stub_overrides(stub)) as classifier:
        totals = asyncio.run(classify_file(classifier, source, output))
    assert totals.ok == 3
    if suffix == ".csv":
        with output.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert [json.loads(r["labels"]) for r in rows] == [["space"]] * 3
    else:
        rows = sorted(pq.read_table(output).to_pylist(), key=lambda r: r["id"])
        assert [r["labels"] for r in rows] == [["space"]] * 3
        assert rows[1]["gold"] == ["climate", "science"]
    assert sorted(r["id"] for r in rows) == ["a", "b", "c"]
    # The journal beside it is what a resumed run reads.
    assert len(read_jsonl(tmp_path / f"out{suffix}.jsonl")) == 3
