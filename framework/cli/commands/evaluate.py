"""`labelwise evaluate RESULTS_OR_RUN_DIR [--gold FILE] [--labels a,b | --taxonomy NAME]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from framework.errors import ConfigError, InputError
from framework.results import (
    METRICS_FILE,
    REPORT_FILE,
    REPORT_HTML_FILE,
    RunFolder,
    read_result_rows,
)
from framework.run_record import RunRecord

__all__ = ["run"]

DESCRIPTION = """\
Score a run's results against gold labels: per-label precision, recall and F1,
micro/macro/weighted/samples averages with 95% bootstrap intervals, exact match,
Hamming loss, Jaccard, failed and "none" rates. Prints the table and writes
metrics.json, report.md, report.html and per_label_f1.png into the run folder
given (beside the results file when a file is given, beside --out with --out).

Gold comes from the rows' "gold" field (copied from the input's labels), or
from --gold, a JSONL file of {"id", "labels"} rows joined by id. The label set
comes from --taxonomy or --labels, else from the run's record.json, else the
labels seen (with a warning: a label nobody used then drops out of macro-F1).

Every results row carries the hash of the taxonomy it was labeled with. Rows of
different taxonomy versions, or results of another version than --taxonomy,
the run's record or the gold file name, are not scored together unless
--allow-taxonomy-mismatch says so.
"""


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from framework.evaluation.metrics import NoGoldLabels
    from framework.evaluation.report import evaluate_results, metrics_table

    folder = RunFolder.of(Path(args.results))
    results, record = folder.results, folder.record
    gold = read_gold(Path(args.gold)) if args.gold else None
    labels, none_label, expected = label_set(args, record, results, gold)
    if not args.allow_taxonomy_mismatch:
        check_taxonomy(results, expected, Path(args.gold) if args.gold else None)
    # A run folder gets its own scores even when its results lie elsewhere (output=): two
    # runs writing into one folder must not share, and overwrite, one metrics.json.
    into = folder.path if Path(args.results).is_dir() else results.parent
    out = Path(args.out) if args.out else into / METRICS_FILE
    if gold is not None:
        warn_unmatched_gold(gold, results, Path(args.gold))
    source = _text_source(record, args.gold)
    route = (record.model_extra or {}).get("route") if record else None
    estimate = route.get("estimate") if isinstance(route, dict) else None
    try:
        metrics = evaluate_results(
            results,
            labels,
            out_dir=out.parent,
            none_label=none_label,
            gold=gold,
            input_path=source[0],
            columns=source[1],
            resamples=args.bootstrap,
            title=str(args.results),
            metrics_file=out,
            route=estimate,  # a routed run's report.html keeps its estimate
        )
    except NoGoldLabels:
        metrics = None
    if metrics is None:
        where = f"in {args.gold}" if args.gold else f"in the rows of {results}"
        raise InputError(
            f"no gold labels {where} match a result; give --gold FILE, a JSONL of "
            '{"id", "labels"} rows with the ids of the results'
        )
    print(metrics_table(metrics))
    if estimate:  # a routed run: its estimate beside the truth
        print("\n" + estimate_beside_gold(estimate, results, labels, gold, none_label))
    report = out.parent / REPORT_FILE
    print(f"\nwrote {out}, {report} and {out.parent / REPORT_HTML_FILE} (open it in a browser)")
    return 0


def estimate_beside_gold(
    estimate: Mapping[str, Any],
    results: Path,
    labels: Sequence[str],
    gold: Mapping[str, Sequence[str]] | None,
    none_label: str | None,
) -> str:
    """A routed run's estimated per-label precision and recall (record.json
    route.estimate) beside the realised ones, on the rows the estimate is about: the
    machine-labeled rows (tiers trained and llm, ok, with text)."""
    from framework.evaluation.markdown import markdown_table
    from framework.evaluation.metrics import NoGoldLabels, compute_metrics
    from framework.learning.route_words import estimate_rows

    def machine() -> Any:
        for row in read_result_rows(results):
            tier = row.extra.get("tier")
            if tier in ("trained", "llm") and row.ok and not row.extra.get("empty_text"):
                yield row

    try:
        part = compute_metrics(machine(), labels, none_label=none_label, gold=gold, resamples=200)
    except NoGoldLabels:
        return "route estimate: no machine-labeled row has gold to set it against"
    realised = {s.label: (s.precision, s.recall) for s in part.per_label}
    rows = estimate_rows(estimate, realised)
    confidence = f"{1 - float(estimate['alpha']):.0%}"
    head = (
        f"Route: estimated ({confidence} intervals, record.json route.estimate) beside "
        f"realised, on the {part.scored} machine-labeled rows with gold"
    )
    header = ["label", "precision est.", "realised", "within", "recall est.", "realised", "within"]
    return head + "\n\n" + markdown_table(header, rows)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="labelwise evaluate",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("results", metavar="RESULTS_OR_RUN_DIR", help="results JSONL, or a run folder")
    cli.add_argument("--gold", metavar="FILE", help='JSONL of {"id", "labels"} rows')
    which = cli.add_mutually_exclusive_group()
    which.add_argument("--labels", metavar="A,B,C", help="the label set, comma-separated")
    which.add_argument("--taxonomy", metavar="NAME", help="the label set of conf/taxonomy/NAME")
    cli.add_argument(
        "--out",
        metavar="FILE",
        help="metrics.json to write (default: in RUN_DIR, or beside RESULTS)",
    )
    cli.add_argument(
        "--bootstrap",
        metavar="N",
        type=_positive,
        default=1000,
        help="bootstrap resamples for the intervals (default 1000)",
    )
    cli.add_argument(
        "--allow-taxonomy-mismatch",
        action="store_true",
        help="score even when results, gold or --taxonomy come from different taxonomy "
        "versions (by default that is refused)",
    )
    return cli


def check_taxonomy(results: Path, expected: str | None, gold_file: Path | None) -> None:
    """Refuse to score labels from different versions of a taxonomy against each other.

    Each results row carries the hash of the taxonomy it was labeled with; so may
    the rows of a gold file. All must agree, and agree with the taxonomy the
    labels are scored over (--taxonomy, or the run's record) when that is known.
    """
    stamps = {row.taxonomy_hash: row.taxonomy for row in read_result_rows(results)}
    stamps.pop(None, None)
    if len(stamps) > 1:
        found = ", ".join(f"{name} ({digest})" for digest, name in stamps.items())
        raise InputError(
            f"{results} mixes rows labeled with different taxonomies: {found}; "
            "pass --allow-taxonomy-mismatch to score them together anyway"
        )
    ours = next(iter(stamps), None)
    if expected is not None and ours is not None and ours != expected[:16]:
        raise InputError(
            f"{results} was labeled with taxonomy {stamps[ours]} ({ours}), not the "
            f"one scored against ({expected[:16]}); pass --allow-taxonomy-mismatch "
            "to score it anyway"
        )
    for gold_hash in _gold_stamps(gold_file) if gold_file else ():
        if ours is not None and gold_hash != ours:
            raise InputError(
                f"gold file {gold_file} was labeled with taxonomy hash {gold_hash}, "
                f"the results with {ours}; pass --allow-taxonomy-mismatch to score "
                "them against each other anyway"
            )


def _gold_stamps(path: Path) -> set[str]:
    found: set[str] = set()
    with path.open("rb") as handle:
        for raw in handle:
            if b"taxonomy_hash" in raw:
                row = json.loads(raw)
                if isinstance(row, dict) and row.get("taxonomy_hash"):
                    found.add(str(row["taxonomy_hash"])[:16])
    return found


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def read_gold(path: Path) -> dict[str, list[str]]:
    """Gold labels by id from a JSONL file of {"id", "labels"} rows (other keys ignored)."""
    if not path.is_file():
        raise InputError(f"gold file {path} does not exist")
    gold: dict[str, list[str]] = {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InputError(f"gold file {path} line {number} is not JSON") from None
            labels = row.get("labels") if isinstance(row, dict) else None
            if isinstance(labels, list) and row.get("id") is not None:
                gold[str(row["id"])] = [str(label) for label in labels]
    if not gold:
        raise InputError(f'gold file {path} has no {{"id", "labels"}} rows')
    return gold


def label_set(
    args: argparse.Namespace,
    record: RunRecord | None,
    results: Path,
    gold: Mapping[str, Sequence[str]] | None,
) -> tuple[list[str], str | None, str | None]:
    """The labels to score over, the taxonomy's none label and its hash when known."""
    if args.taxonomy:
        return _taxonomy_labels(args.taxonomy)
    if args.labels is not None:
        labels = list(dict.fromkeys(x.strip() for x in args.labels.split(",") if x.strip()))
        if not labels:
            raise ConfigError("--labels: no labels given; list them comma-separated: --labels a,b")
        return labels, None, None
    if record and record.taxonomy.labels:
        recorded = record.taxonomy
        return list(recorded.labels), recorded.none_label, recorded.hash
    seen: dict[str, None] = {}
    for row in read_result_rows(results):
        expected = gold.get(row.id, []) if gold is not None else row.gold or ()
        seen.update(dict.fromkeys([*expected, *row.labels]))
    print(
        f"labelwise: warning: no label set given; scoring over the {len(seen)} labels seen "
        "(give --taxonomy or --labels: a label never seen drops out of macro-F1)",
        file=sys.stderr,
    )
    return sorted(seen), None, None


def _taxonomy_labels(name: str) -> tuple[list[str], str | None, str]:
    from framework.evaluation.taxonomies import from_conf

    known = from_conf(name)
    return list(known.labels), known.none_label, known.hash


def warn_unmatched_gold(gold: Mapping[str, Sequence[str]], results: Path, gold_file: Path) -> None:
    """Say how many gold rows match no result (a typo in an id, the gold of another run):
    they are not scored, and nothing else would tell."""
    ids = {row.id for row in read_result_rows(results)}
    unmatched = [row_id for row_id in gold if row_id not in ids]
    if unmatched:
        shown = ", ".join(repr(row_id[:40]) for row_id in unmatched[:3])
        more = f" and {len(unmatched) - 3} more" if len(unmatched) > 3 else ""
        print(
            f"labelwise: warning: {len(unmatched)} of {len(gold)} gold rows in {gold_file} "
            f"match no result in {results} ({shown}{more}); they are not scored",
            file=sys.stderr,
        )


def _text_source(record: RunRecord | None, gold: str | None) -> tuple[Path | None, Any]:
    """Where the texts of the worst errors come from: the run's input, else the gold file."""
    from framework.config.schema import ColumnNames

    if record and record.input.path:
        columns = record.config.get("columns") or {}
        return Path(record.input.path), ColumnNames.model_validate(columns)
    return (Path(gold), None) if gold else (None, None)
