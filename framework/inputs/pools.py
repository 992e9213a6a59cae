"""A pool's labeled rows: what a trained model or an examples index is built from.

    pool = read_labeled(path, config.columns, taxonomy_labels)
    pool.rows                          # (id, text, labels) of the rows with gold labels
    for line in pool.warnings("trained.pool"): log.warning(line)

Rows are read as any input is (framework.inputs.readers: JSONL, CSV or Parquet). What is
left out is counted apart, and said once, in one line each: lines that are no row (not
UTF-8, not JSON, no text), labels outside the taxonomy (by name), and rows whose labels
were one string of names separated by ';' or ',' (a hand-written CSV), which are read as
those labels when every name is the taxonomy's. Rows without gold are only counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from framework.config.schema import ColumnNames
from framework.inputs.readers import read_rows

__all__ = ["LabeledPool", "read_labeled"]


@dataclass(frozen=True)
class LabeledPool:
    """A pool's rows that have gold labels, as (id, text, labels), and what was left out:
    what a trained model or an examples index is built from."""

    rows: list[tuple[str, str, tuple[str, ...]]]
    unlabeled: int = 0  # rows without gold
    unreadable: int = 0  # lines that are no row: not UTF-8, not JSON, no text, ...
    first_unreadable: str = ""  # the reason of the first
    outside: tuple[tuple[str, int], ...] = ()  # (label, rows) of labels not in the taxonomy
    separated: int = 0  # rows whose labels were one "a;b" or "a,b" string, read as a and b

    def warnings(self, key: str) -> list[str]:
        """One line for each thing left out or read otherwise than written; `key` names
        the pool (trained.pool, examples.pool)."""
        found = []
        if self.unreadable:
            first = self.first_unreadable
            found.append(f"{key}: {self.unreadable} unreadable lines skipped (first: {first})")
        if self.outside:
            shown = sorted(self.outside, key=lambda kv: (-kv[1], kv[0]))
            names = ", ".join(f"{label[:60]!r} ({rows} rows)" for label, rows in shown[:5])
            more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
            hint = (
                "; a labels cell is a JSON list, or names separated by | (or by ; or , "
                "when every name is the taxonomy's)"
                if any(_SEPARATORS.search(label) for label, _ in self.outside)
                else ""
            )
            found.append(f"{key}: labels outside the taxonomy left out: {names}{more}{hint}")
        if self.separated:
            found.append(
                f"{key}: the labels of {self.separated} rows were one string of names "
                "separated by ';' or ','; read as separate labels"
            )
        return found


_SEPARATORS = re.compile(r"[;,|]")


def read_labeled(
    source: str | Path, columns: ColumnNames, known: Collection[str] | None = None
) -> LabeledPool:
    """A pool's rows that have gold labels. With `known` (the taxonomy's labels) the
    others are left out and counted, and a label that is a ';'- or ','-separated string
    of known ones (a CSV written by hand) is read as those."""
    rows: list[tuple[str, str, tuple[str, ...]]] = []
    unlabeled = unreadable = separated = 0
    first, outside = "", Counter[str]()
    for row in read_rows(source, columns):
        if row.item is None:
            unreadable += 1
            first = first or str(row.error)
            continue
        if row.item.gold is None:
            unlabeled += 1
            continue
        gold = tuple(row.item.gold)
        if known is not None:
            kept, split, unknown = _known_labels(gold, known)
            gold, separated = tuple(kept), separated + split
            outside.update(set(unknown))
        rows.append((row.item.id, row.item.text, gold))
    return LabeledPool(rows, unlabeled, unreadable, first, tuple(outside.items()), separated)


def _known_labels(gold: Iterable[str], known: Collection[str]) -> tuple[list[str], bool, list[str]]:
    """The known labels of a row, whether one was a separated string of them, the rest."""
    kept, unknown, split = [], [], False
    for label in gold:
        parts = [part.strip() for part in re.split(r"[;,]", label) if part.strip()]
        if label in known:
            kept.append(label)
        elif len(parts) > 1 and all(part in known for part in parts):
            kept.extend(parts)
            split = True
        else:
            unknown.append(label)
    return kept, split, unknown
