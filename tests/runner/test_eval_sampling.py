"""sample_rows: reservoir sampling, deterministic for a seed, in input order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from framework.inputs.sampling import sample_rows


def test_the_same_seed_gives_the_same_sample_in_input_order() -> None:
    rows = list(range(1000))
    first = sample_rows(rows, 50, seed=7)
    assert first == sample_rows(iter(rows), 50, seed=7)
    assert len(first) == 50 and len(set(first)) == 50
    assert first == sorted(first)
    assert sample_rows(rows, 50, seed=8) != first


def test_fewer_rows_than_the_size_gives_them_all() -> None:
    assert sample_rows(["a", "b", "c"], 10, seed=0) == ["a", "b", "c"]
    assert sample_rows([], 10, seed=0) == []
    assert sample_rows(["a", "b"], 0, seed=0) == []


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        sample_rows([1], -1, seed=0)


def test_rows_are_read_once_as_a_stream() -> None:
    def stream() -> Iterator[int]:
        yield from range(10_000)

    assert len(sample_rows(stream(), 100, seed=1)) == 100


def test_every_row_has_the_same_chance() -> None:
    counts: Counter[int] = Counter()
    for seed in range(3000):
        counts.update(sample_rows(range(10), 3, seed=seed))
    # each row is expected 900 times (3000 * 3 / 10)
    assert all(780 < counts[n] < 1020 for n in range(10)), counts
