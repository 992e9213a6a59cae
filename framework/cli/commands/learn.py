"""`labelwise learn POOL_DIR [--add FILE] [--taxonomy NAME]`: refit on the newest pool."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["run"]

DESCRIPTION = """\
Refit the trained model on the newest version of a labeled pool (the folder that
`labelwise review import EXPORT --to gold.jsonl --pool DIR` adds corrections to) and
print, per label, the estimated precision and recall before (the previous version's
model) and after, each cross-fitted on its own pool.

  labelwise learn pool/ --taxonomy goemotions_ekman
  labelwise learn pool/ --add labeled.jsonl       # rows of a labeled file as a version first

The labels are those of --taxonomy NAME, else of the taxonomy the rows were reviewed
with (their stamp), else those the pool holds. Each version's model is kept in
POOL_DIR/models/; a run uses it with trained.pool=POOL_DIR/versions/V.jsonl
trained.artifact=POOL_DIR/models/V.skops (the command prints both).
"""


def run(argv: list[str]) -> int:
    cli = argparse.ArgumentParser(
        prog="labelwise learn",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("pool", metavar="POOL_DIR")
    cli.add_argument("--add", metavar="FILE", help="add a labeled file's rows as a version first")
    cli.add_argument("--taxonomy", metavar="NAME", help="the labels of conf/taxonomy/NAME")
    args = cli.parse_args(argv)

    from framework.learning.labeled_pool import LabeledPoolDir
    from framework.learning.relearn import relearn

    pool = LabeledPoolDir(Path(args.pool))
    if args.add:
        _add(pool, Path(args.add))
    labels = _labels(pool, args.taxonomy)
    found = relearn(pool, labels)
    print(f"trained model fit on version {found.version} ({found.rows} rows) of {pool.path}")
    if found.before_note:
        print(f"before: {found.before_note}")
    print(f"{'label':<16} {'precision':>17} {'recall':>17}  rows")
    for label, after in found.after.items():
        before = found.before.get(label)
        if before is None:
            p, r = f"{after.precision:.2f}", f"{after.recall:.2f}"
        else:
            p = f"{before.precision:.2f} -> {after.precision:.2f}"
            r = f"{before.recall:.2f} -> {after.recall:.2f}"
        print(f"{label[:16]:<16} {p:>17} {r:>17}  {after.support}")
    print(
        f"use it: trained.pool={pool.version_file(found.version)} "
        f"trained.artifact={pool.model_file(found.version)}"
    )
    return 0


def _add(pool: object, path: Path) -> None:
    from framework.config.schema import ColumnNames
    from framework.errors import InputError
    from framework.inputs.pools import read_labeled
    from framework.learning.labeled_pool import LabeledPoolDir

    assert isinstance(pool, LabeledPoolDir)
    if not path.is_file():
        raise InputError(f"--add {path} is not a file; give labeled rows (id, text, labels)")
    read = read_labeled(path, ColumnNames())
    for warning in read.warnings(f"--add {path}"):
        print(f"labelwise: warning: {warning}", file=sys.stderr)
    rows = [{"id": i, "text": t, "labels": list(ls)} for i, t, ls in read.rows]
    added = pool.add(rows, source=f"labelwise learn --add {path}")
    if added is None:
        print(f"--add {path}: nothing new for the pool")
    else:
        print(
            f"pool version {added.version}: {added.added} rows added, {added.changed} changed "
            f"({added.rows} rows; previous {added.previous or 'none'} kept)"
        )


def _labels(pool: object, name: str | None) -> list[str]:
    from framework.evaluation.taxonomies import from_conf, is_taxonomy_name
    from framework.learning.labeled_pool import LabeledPoolDir

    assert isinstance(pool, LabeledPoolDir)
    if name:
        return list(from_conf(name).labels)
    rows = pool.rows(pool.head().version)
    stamps = {str(r.get("taxonomy") or "").partition("@")[0] for r in rows} - {""}
    if len(stamps) == 1 and is_taxonomy_name(stamp := stamps.pop()):
        return list(from_conf(stamp).labels)
    return sorted({label for r in rows for label in r.get("labels") or []})
