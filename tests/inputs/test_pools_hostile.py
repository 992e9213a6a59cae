"""Hostile pools for the trained model and the examples (hostile cases 52, 58, 61, 64,
102, turn 3): what is left out is said, once, in one line; what cannot be learnt from
is a ConfigError naming the pool's key."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from framework.config.schema import ColumnNames
from framework.inputs.pools import read_labeled
from framework.testing import Reply, StubServer
from tests.support import classify_command, read_jsonl, run_cli, write_jsonl
from tests.support.news_pool import LABELS, pool_rows


def write_csv(path: Path, rows: list[dict[str, object]], separator: str) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "labels"])
        for row in rows:
            writer.writerow([row["id"], row["text"], separator.join(row["labels"])])  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize("separator", [";", ",", ", "])
def test_csv_labels_separated_by_semicolons_or_commas_are_read_as_labels(
    tmp_path: Path, separator: str
) -> None:
    rows = pool_rows(40)
    jsonl = read_labeled(write_jsonl(tmp_path / "p.jsonl", rows), ColumnNames(), set(LABELS))
    read = read_labeled(write_csv(tmp_path / "p.csv", rows, separator), ColumnNames(), set(LABELS))
    assert read.rows == jsonl.rows  # the same gold as the JSONL pool, row for row
    several = sum(len(r["labels"]) > 1 for r in rows)  # type: ignore[arg-type]
    assert several and read.separated == several and not read.outside
    (note,) = read.warnings("trained.pool")
    assert f"the labels of {several} rows were one string" in note


def test_labels_outside_the_taxonomy_are_counted_and_named(tmp_path: Path) -> None:
    rows = pool_rows(30)
    for row in rows[:4]:
        row["labels"] = [*row["labels"], "BOGUS"]  # type: ignore[list-item]
    rows[5]["labels"] = ["space;BOGUS"]  # a separated string with an unknown part: not split
    read = read_labeled(write_jsonl(tmp_path / "p.jsonl", rows), ColumnNames(), set(LABELS))
    assert dict(read.outside) == {"BOGUS": 4, "space;BOGUS": 1}
    assert all("BOGUS" not in label for _, _, labels in read.rows for label in labels)
    (warning,) = read.warnings("examples.pool")
    assert warning.startswith("examples.pool: labels outside the taxonomy left out: 'BOGUS' (4")
    assert "'space;BOGUS' (1 rows)" in warning and "separated by |" in warning


def test_unreadable_lines_are_counted_apart_from_rows_without_gold(tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "p.jsonl", pool_rows(20))
    with pool.open("ab") as handle:
        handle.write(b'{"id": "bad", "text": "caf\xe9", "labels": ["space"]}\n')  # Latin-1
        handle.write(b"not json at all\n")
        handle.write(b'{"id": "plain", "text": "no gold here"}\n')
    read = read_labeled(pool, ColumnNames(), set(LABELS))
    assert (len(read.rows), read.unreadable, read.unlabeled) == (20, 2, 1)
    (warning,) = read.warnings("trained.pool")
    assert warning.startswith("trained.pool: 2 unreadable lines skipped (first: line 21 is not")


# -- through the command line, against the stub --------------------------------------------


def pool_args(kind: str, pool: Path) -> list[str]:
    if kind == "trained":
        return ["taxonomy=news", "trained.use=alone", f"trained.pool={pool}"]
    return ["taxonomy=news", "validation=lenient", "examples=similar", f"examples.pool={pool}"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["trained", "examples"])
def test_what_a_pool_leaves_out_is_said_once(stub: StubServer, tmp_path: Path, kind: str) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    rows = pool_rows(60)
    for row in rows[:3]:
        row["labels"] = [*row["labels"], "BOGUS"]  # type: ignore[list-item]
    pool = write_jsonl(tmp_path / "pool.jsonl", rows)
    with pool.open("ab") as handle:
        handle.write(b"\xff\xfe not UTF-8\n")
    source = write_jsonl(tmp_path / "in.jsonl", pool_rows(4, seed=3))
    out = tmp_path / "out.jsonl"
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *pool_args(kind, pool)))
    assert result.returncode == 0, result.stderr
    key = f"{kind}.pool"
    outside = f"{key}: labels outside the taxonomy left out: 'BOGUS' (3 rows)"
    assert result.stderr.count(outside) == 1, result.stderr
    assert result.stderr.count(f"{key}: 1 unreadable lines skipped") == 1
    assert "without gold" not in result.stderr
    assert len(read_jsonl(out)) == 4


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["trained", "examples"])
def test_a_pool_of_empty_texts_is_refused_naming_its_key(
    stub: StubServer, tmp_path: Path, kind: str
) -> None:
    rows = [{**row, "text": " " * (n % 3)} for n, row in enumerate(pool_rows(30))]
    pool = write_jsonl(tmp_path / "pool.jsonl", rows)
    source = write_jsonl(tmp_path / "in.jsonl", pool_rows(3, seed=3))
    out = tmp_path / "out.jsonl"
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *pool_args(kind, pool)))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "empty vocabulary" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"labelwise: error: {kind}.pool: the texts of all 30 labeled rows")
    assert stub.requests == [] and not out.exists()


@pytest.mark.slow
def test_a_pool_whose_texts_share_no_word_is_refused_naming_its_key(
    stub: StubServer, tmp_path: Path
) -> None:
    """Texts of one-letter tokens: no word the TF-IDF counts (scikit-learn's 'empty
    vocabulary'), said as the pool's fault."""
    rows = [{**row, "text": f"a b c {n % 7}"} for n, row in enumerate(pool_rows(30))]
    pool = write_jsonl(tmp_path / "pool.jsonl", rows)
    source = write_jsonl(tmp_path / "in.jsonl", pool_rows(3, seed=3))
    out = tmp_path / "out.jsonl"
    args = pool_args("trained", pool)
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *args))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "labelwise: error: trained.pool: its texts hold too few words" in result.stderr
