"""A fixed-size random sample of a stream of rows: `sample: {size: 300, seed: 0}`.

Reservoir sampling (Algorithm R): one pass, memory for `size` rows whatever the
length of the stream, the same sample for the same rows and seed, returned in
input order. Every row has the same chance, size / len(rows), to be picked.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TypeVar

__all__ = ["sample_rows"]

T = TypeVar("T")


def sample_rows(rows: Iterable[T], size: int, seed: int) -> list[T]:
    """`size` rows drawn uniformly without replacement, in input order; all rows if fewer."""
    if size < 0:
        raise ValueError(f"sample size must be 0 or more, not {size}")
    generator = random.Random(seed)
    reservoir: list[tuple[int, T]] = []
    for index, row in enumerate(rows):
        if len(reservoir) < size:
            reservoir.append((index, row))
            continue
        slot = generator.randint(0, index)  # inclusive: index + 1 rows seen so far
        if slot < size:
            reservoir[slot] = (index, row)
    reservoir.sort(key=lambda pair: pair[0])
    return [row for _, row in reservoir]
