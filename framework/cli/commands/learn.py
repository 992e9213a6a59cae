"""`labelwise learn POOL_DIR [--add FILE] [--taxonomy NAME] [--run RUN_DIR [--relabel]]`:
refit on the newest pool; with a run, recertify its route and relabel its rows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["run"]

DESCRIPTION = """\
Refit the trained model on the newest version of a labeled pool (the folder that
`labelwise review import EXPORT --to gold.jsonl --pool DIR` adds corrections to) and
print, per label, the estimated precision and recall before (the previous version's
model) and after, both on the newest version's rows, each row scored by a model that
never saw it.

  labelwise learn pool/ --taxonomy goemotions_ekman
  labelwise learn pool/ --add labeled.jsonl       # rows of a labeled file as a version first
  labelwise learn pool/ --run RUN_DIR             # the run's model refit, its route recertified
  labelwise learn pool/ --run RUN_DIR --relabel   # and its rows the new model decides
                                                  # otherwise relabeled in place

With --run, the model is the run's kind (its trained.* settings), "before" is the run's
own model, the thresholds are the run's; a run with a route (route.tiers) gets its
certified thresholds again on the new version, printed before -> after per label.
With --relabel, the rows of the run's results whose trained-model decision the new
model changes are run again (the LLM's answers from the response cache where the
request is the same) and replace theirs in the results file (docs/review-loop.md).

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
    cli.add_argument("--run", metavar="RUN_DIR", help="refit the run's model, recertify its route")
    cli.add_argument(
        "--relabel",
        action="store_true",
        help="with --run: relabel in place the rows whose decision the new model changes",
    )
    args = cli.parse_args(argv)
    if args.relabel and not args.run:
        cli.error("--relabel needs --run RUN_DIR (the run whose rows to relabel)")
    if args.run:
        return _with_run(args)

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


def _with_run(args: argparse.Namespace) -> int:
    from framework.errors import ConfigError
    from framework.evaluation.review.recertify import RunOf, recertify
    from framework.learning.labeled_pool import LabeledPoolDir

    pool = LabeledPoolDir(Path(args.pool))
    run = RunOf.load(Path(args.run))
    if args.taxonomy and args.taxonomy != run.config.taxonomy.name:
        raise ConfigError(
            f"--taxonomy {args.taxonomy}: the run {args.run} used taxonomy "
            f"{run.config.taxonomy.name}; leave --taxonomy out with --run"
        )
    if args.add:
        _add(pool, Path(args.add))
    change = recertify(run, pool)
    print(
        f"the run's trained model fit on version {change.version} of {pool.path}; before (the "
        f"run's model) and after on the same {change.rows} rows of it"
    )
    print(f"{'label':<16} {'precision':>13} {'recall':>13}  rows" + _route_head(change))
    for label, after in change.after.items():
        before = change.before[label]
        p = f"{before.precision:.2f} -> {after.precision:.2f}"
        r = f"{before.recall:.2f} -> {after.recall:.2f}"
        line = f"{label[:16]:<16} {p:>13} {r:>13}  {after.support:>4}"
        if change.routed:
            (hi0, lo0), (hi1, lo1) = (
                change.rules_before.get(label, (None, None)),
                change.rules_after[label],
            )
            line += f"  {_cut(hi0)} -> {_cut(hi1)}  {_cut(lo0)} -> {_cut(lo1)}"
        print(line)
    if change.routed:
        print(
            f"the trained tier settles {change.settled_before} of these {change.rows} rows "
            f"before, {change.settled_after} after"
        )
    if args.relabel:
        from framework.evaluation.review.relabel import relabel

        done = relabel(run, change)
        print(done.words())
    else:
        print(
            f"use it: trained.pool={pool.version_file(change.version)} (the model is kept in "
            "the cache folder; a run finds it)"
        )
    return 0


def _route_head(change: object) -> str:
    return "  hi (present)  lo (absent)" if getattr(change, "routed", False) else ""


def _cut(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


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
