"""A DataFrame's columns in and out, through Arrow (pandas and polars alike).

    texts = text_values(df, "text")                       # Python values, null as None
    out = add_columns(df, results, labels, wide=False)    # a copy, columns added by position

Columns are read and added by position, never by index label: a pandas frame whose
index repeats values gets each row's own result. A failed row's labels (and, wide,
its label and confidence columns) are null: unknown, not "no label".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from framework.errors import InputError
from framework.results import ResultRow

__all__ = ["Frame", "add_columns", "text_values"]

Frame = Any  # a pandas.DataFrame or a polars.DataFrame (neither is a dependency)


def _kind(frame: Frame) -> str:
    module = type(frame).__module__.split(".")[0]
    if module in ("pandas", "polars") and hasattr(frame, "columns"):
        return module
    raise InputError(
        f"a {type(frame).__name__} is not a DataFrame labelwise reads; give a pandas or "
        "polars DataFrame (pip install 'labelwise[dataframes]')"
    )


def text_values(frame: Frame, column: str, *, named_by: str = "text") -> list[Any]:
    """A column's values as Python objects (nulls and NaN as None), through Arrow."""
    import pyarrow as pa

    kind = _kind(frame)
    names = [str(name) for name in frame.columns]
    if column not in names:
        raise InputError(
            f"the frame has no column {column!r} (it has {', '.join(names[:20])}); name the "
            f"{named_by} column with {named_by}=..."
        )
    if kind == "polars":
        return list(frame.get_column(column).to_arrow().to_pylist())
    series = frame[column]
    if getattr(series, "ndim", 1) != 1:
        raise InputError(f"column {column!r} appears more than once in the frame; rename one")
    try:
        return list(pa.array(series, from_pandas=True).to_pylist())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column of mixed types
        return [None if isinstance(v, float) and math.isnan(v) else v for v in series.tolist()]


def add_columns(
    frame: Frame,
    results: Sequence[ResultRow],
    labels: Sequence[str],
    *,
    wide: bool,
    prefix: str = "",
) -> Frame:
    """The frame with its results' columns added, row for row, their names after `prefix`."""
    import pyarrow as pa

    ok = [row.ok for row in results]
    added: dict[str, pa.Array] = {
        "labels": pa.array(
            [list(row.labels) if good else None for row, good in zip(results, ok, strict=True)],
            type=pa.list_(pa.string()),
        ),
        "status": pa.array([row.status for row in results], type=pa.string()),
        "error": pa.array([row.error for row in results], type=pa.string()),
    }
    if wide:
        for label in labels:
            added[f"label_{label}"] = pa.array(
                [
                    label in row.labels if good else None
                    for row, good in zip(results, ok, strict=True)
                ],
                type=pa.bool_(),
            )
        for label in labels:
            added[f"confidence_{label}"] = pa.array(
                [
                    _confidence(row, label) if good else None
                    for row, good in zip(results, ok, strict=True)
                ],
                type=pa.float64(),
            )
    added = {prefix + name: values for name, values in added.items()}
    taken = [name for name in added if name in [str(c) for c in frame.columns]]
    if taken:
        raise InputError(
            f"the frame already has column(s) {', '.join(taken)}, which the results would "
            "overwrite; give their names a prefix (prefix='pred_') or rename yours"
        )
    if _kind(frame) == "polars":
        import polars as pl

        return frame.with_columns(
            [pl.from_arrow(values).alias(name) for name, values in added.items()]  # type: ignore[union-attr]
        )
    import pandas as pd

    out = frame.copy()
    for name, values in added.items():
        out[name] = pd.arrays.ArrowExtensionArray(values)  # by position, not by index
    return out


def _confidence(row: ResultRow, label: str) -> float | None:
    if row.confidence is None:
        return None
    value = row.confidence.get(label)
    return float(value) if value is not None else None
