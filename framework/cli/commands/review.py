"""`labelwise review export|queue RUN_DIR`; `review import EXPORT`; `review agreement EXPORT`."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from framework.errors import ConfigError, InputError
from framework.results import RunFolder

if TYPE_CHECKING:
    from framework.evaluation.review.corrections import GoldRow
    from framework.evaluation.review.gold_check import Checked
    from framework.evaluation.review.tasks import TaskExport

__all__ = ["run"]

DESCRIPTION = """\
Review a run's labels in Label Studio, and bring the corrections back as gold.

  labelwise review export outputs/DATE/TIME --to label-studio [--rows review|band|failed|all]
      writes label-studio/tasks.json (the rows, the run's labels as predictions with
      their confidence) and label-studio/labeling-config.xml (one choice a label of the
      taxonomy) into the run folder; create a project with that config in Label Studio
      and import tasks.json. With --url (and $LABEL_STUDIO_API_KEY) labelwise does both.
  labelwise review import EXPORT.json --to gold.jsonl [--run RUN_DIR | --taxonomy NAME]
      reads the project's JSON (or JSON_MIN) export into {"id", "text", "labels"} rows:
      gold for `labelwise evaluate RUN --gold gold.jsonl`, or the input of a new run.
      With --url URL --project ID instead of EXPORT, labelwise fetches the export.
      Malformed tasks are left out and counted by reason. Labels are checked against
      the taxonomy the tasks were made with (their stamp, found in conf/taxonomy), or
      that of --run RUN_DIR or --taxonomy NAME: a task holding a label outside it is
      left out (--allow-unknown-labels keeps it), and the taxonomy's none label beside
      other labels is dropped. --to never replaces the export, a run's results, or a
      file review import did not write (unless --force). --pool DIR also adds the
      rows to a versioned labeled pool (a new version; the previous kept) that
      `labelwise learn DIR` refits the trained model on.

  labelwise review queue RUN_DIR --budget N [--seed S] [--coverage 0.2] [--out DIR]
      the N rows most worth a person's time, as the same Label Studio files: scored by
      the uncertainty of each source (trained model, LLM) per label, the disagreement
      between sources, failed rows, and a share of the budget for the rarest labels
      (docs/review-loop.md). Each task's data says why it was picked (`why`,
      `queue_score`); queue.jsonl beside tasks.json lists the picks in order.
  labelwise review agreement EXPORT.json [--run RUN_DIR] [--min-alpha 0.667]
      per-label Krippendorff's alpha with bootstrap intervals: annotator vs annotator
      (tasks with several annotations), annotator vs LLM and LLM vs trained model (with
      --run); labels under --min-alpha are flagged with the taxonomy's description.

  labelwise review serve POOL_DIR --taxonomy NAME [--port 9090]
      a Label Studio ML backend (Settings > Model, URL http://HOST:PORT): the pool's
      trained model pre-annotates tasks (/predict), and each annotation (/webhook) is
      added to the pool as a new version and the model refit on it.

--rows: review (default) the rows in the abstain band (thresholds.abstain_band)
and the failed rows; band or failed only one of them; all every row.
"""

API_KEY_VARIABLE = "LABEL_STUDIO_API_KEY"


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.action == "export":
        return _export(args)
    if args.action == "queue":
        return _queue(args)
    if args.action == "serve":
        return _serve(args)
    if args.action == "agreement":
        from framework.evaluation.review.agreement_report import agreement

        return agreement(args)
    return _import(args)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="labelwise review",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = cli.add_subparsers(
        dest="action", required=True, metavar="export|queue|import|agreement"
    )
    out = actions.add_parser("export", help="rows to review as Label Studio tasks")
    out.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (or its results file)")
    out.add_argument("--to", choices=["label-studio"], default="label-studio")
    out.add_argument(
        "--rows",
        choices=["review", "band", "failed", "all", "spot-check"],
        default="review",
        help="which rows (default: the abstain band and the failed rows; spot-check: a "
        "seeded sample of each route tier's rows)",
    )
    out.add_argument(
        "--out", metavar="DIR", help="where the files go (default RUN_DIR/label-studio)"
    )
    _push_options(out)
    queue = actions.add_parser("queue", help="the N rows most worth reviewing, as tasks")
    queue.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (or its results file)")
    queue.add_argument("--budget", metavar="N", type=_positive, required=True)
    queue.add_argument("--seed", metavar="S", type=int, default=0, help="breaks ties (default 0)")
    queue.add_argument(
        "--coverage",
        metavar="SHARE",
        type=_share,
        default=0.2,
        help="share of the budget kept for the rarest labels (default 0.2)",
    )
    queue.add_argument(
        "--out", metavar="DIR", help="where the files go (default RUN_DIR/label-studio-queue)"
    )
    _push_options(queue)
    agree = actions.add_parser("agreement", help="per-label agreement of an export")
    agree.add_argument("export", metavar="EXPORT", help="Label Studio's JSON export")
    agree.add_argument("--run", metavar="RUN_DIR", help="also the run's LLM and trained model")
    agree.add_argument("--min-alpha", type=float, default=0.667, help="flag labels under it")
    agree.add_argument("--bootstrap", type=int, default=500, help="resamples for the intervals")
    agree.add_argument("--seed", type=int, default=0)
    agree.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    serve = actions.add_parser("serve", help="a Label Studio ML backend on a labeled pool")
    serve.add_argument("pool", metavar="POOL_DIR", help="the labeled pool (labelwise learn)")
    serve.add_argument("--taxonomy", metavar="NAME", required=True, help="conf/taxonomy/NAME")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9090)
    back = actions.add_parser("import", help="annotators' export -> gold rows")
    back.add_argument("export", metavar="EXPORT", nargs="?", help="Label Studio's JSON export")
    back.add_argument("--to", metavar="FILE", required=True, help="the gold JSONL to write")
    back.add_argument("--url", metavar="URL", help="fetch the export from this Label Studio")
    back.add_argument("--project", metavar="ID", type=int, help="the project to fetch (with --url)")
    which = back.add_mutually_exclusive_group()
    which.add_argument("--run", metavar="RUN_DIR", help="check labels against this run's taxonomy")
    which.add_argument("--taxonomy", metavar="NAME", help="check labels against conf/taxonomy/NAME")
    back.add_argument(
        "--allow-unknown-labels",
        action="store_true",
        help="keep tasks holding labels outside the taxonomy (they are left out by default)",
    )
    back.add_argument(
        "--force", action="store_true", help="replace --to even if review import did not write it"
    )
    back.add_argument(
        "--pool",
        metavar="DIR",
        help="also add the corrections to this labeled pool as a new version (labelwise learn)",
    )
    return cli


def _serve(args: argparse.Namespace) -> int:
    from framework.evaluation.review.ml_backend import Backend, serve
    from framework.evaluation.taxonomies import from_conf
    from framework.learning.labeled_pool import LabeledPoolDir

    def said(version: str) -> None:
        print(f"model fit on pool version {version}", flush=True)

    backend = Backend(LabeledPoolDir(Path(args.pool)), from_conf(args.taxonomy).labels, said)
    server = serve(backend, host=args.host, port=args.port)
    host, port = str(args.host), server.server_address[1]
    print(f"Label Studio ML backend on http://{host}:{port} (model of version {backend.version})")
    print("in Label Studio: Settings > Model > Connect Model, with that URL", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _push_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--url", metavar="URL", help="also create a project there with the tasks")
    command.add_argument("--title", metavar="TITLE", help="the project's title (with --url)")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number of rows above 0")
    return number


def _share(value: str) -> float:
    share = float(value)
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a share between 0 and 1")
    return share


def _export(args: argparse.Namespace) -> int:
    from framework.evaluation.review.tasks import export_tasks

    folder = RunFolder.of(Path(args.run_dir))
    out = Path(args.out) if args.out else folder.path / "label-studio"
    export = export_tasks(folder, which=args.rows, out_dir=out)
    missing = (
        f" ({export.without_text} rows left out: their text is not in the input)"
        if export.without_text
        else ""
    )
    print(f"{export.tasks} tasks{missing} -> {export.tasks_file}")
    print(f"labeling config -> {export.config_file}")
    _push(args, export)
    return 0


def _push(args: argparse.Namespace, export: TaskExport) -> None:
    if args.url:
        from framework.evaluation.review.studio import push_tasks

        project = push_tasks(
            args.url, os.environ.get(API_KEY_VARIABLE, ""), export, title=args.title
        )
        print(f"Label Studio project {project}: {args.url.rstrip('/')}/projects/{project}/")
        print(
            f"when reviewed: labelwise review import --url {args.url} --project {project} "
            "--to gold.jsonl"
        )
    else:
        print(
            "in Label Studio: create a project, paste the labeling config (Settings > Labeling "
            "Interface), import tasks.json; when reviewed, export it as JSON and run "
            "labelwise review import EXPORT.json --to gold.jsonl"
        )


def _queue(args: argparse.Namespace) -> int:
    import json

    from framework.evaluation.review.queue import pick_rows
    from framework.evaluation.review.tasks import run_labels, write_tasks

    folder = RunFolder.of(Path(args.run_dir))
    labels = run_labels(folder)
    picked = pick_rows(
        folder.rows(), labels, budget=args.budget, seed=args.seed, coverage=args.coverage
    )
    if not picked:
        raise InputError(f"no rows to review in {folder.results}: the results are empty")
    out = Path(args.out) if args.out else folder.path / "label-studio-queue"
    why = {p.row.id: {"why": p.why or "the budget's rest", "queue_score": p.score} for p in picked}
    export = write_tasks(folder, [p.row for p in picked], out_dir=out, why=why)
    listing = out / "queue.jsonl"
    with listing.open("w", encoding="utf-8") as handle:
        for rank, p in enumerate(picked, start=1):
            line = {"rank": rank, "id": p.row.id, "score": p.score, "why": p.why}
            handle.write(json.dumps({**line, "signals": p.signals}, ensure_ascii=False) + "\n")
    covered = sum(1 for p in picked if p.why.startswith("covers rare label"))
    missing = (
        f" ({export.without_text} left out: text not in the input)" if export.without_text else ""
    )
    print(
        f"{export.tasks} tasks{missing} ({covered} for rare labels, the rest by score; "
        f"seed {args.seed}) -> {export.tasks_file}"
    )
    print(f"labeling config -> {export.config_file}; why each was picked -> {listing}")
    _push(args, export)
    return 0


def _import(args: argparse.Namespace) -> int:
    from framework.evaluation.review.corrections import corrections_of, read_corrections
    from framework.evaluation.review.gold_check import check_labels, choose_taxonomy
    from framework.evaluation.review.gold_file import check_target, write_gold

    target, export = Path(args.to), Path(args.export) if args.export else None
    if args.url and args.project is not None and export is None:
        from framework.evaluation.review.studio import pull_export

        source = f"project {args.project} at {args.url}"
        check_target(target, export=None, force=args.force)
        tasks = pull_export(args.url, os.environ.get(API_KEY_VARIABLE, ""), args.project)
        found = corrections_of(tasks, source)
    elif export is not None and not args.url:
        source = str(export)
        check_target(target, export=export, force=args.force)
        found = read_corrections(export)
    else:
        raise ConfigError(
            "review import: give the export file (EXPORT.json), or --url URL --project ID "
            "to fetch it, not both"
        )
    taxonomy = choose_taxonomy(
        found.rows,
        run_dir=Path(args.run) if args.run else None,
        name=args.taxonomy,
        source=source,
        allow_unknown=args.allow_unknown_labels,
    )
    checked = check_labels(found, taxonomy, allow_unknown=args.allow_unknown_labels)
    notes = import_notes(checked)
    if not found.rows and found.left_out:
        raise InputError(f"no gold rows from {source}: {'; '.join(notes)}; nothing written")
    for note in notes:
        print(f"labelwise: warning: {note}", file=sys.stderr)
    count = write_gold(found.rows, target)
    left = (
        f"; {found.unannotated} tasks without an annotation left out" if found.unannotated else ""
    )
    checked_against = (
        f" (labels checked against taxonomy {taxonomy.name}, {taxonomy.source})" if taxonomy else ""
    )
    print(f"{count} gold rows -> {target}{checked_against}{left}")
    if args.pool:
        _add_to_pool(Path(args.pool), found.rows, source)
    if count:
        print(f"score a run against them: labelwise evaluate RUN_DIR --gold {target}")
    return 0


def _add_to_pool(path: Path, rows: list[GoldRow], source: str) -> None:
    from framework.learning.labeled_pool import LabeledPoolDir

    added = LabeledPoolDir(path).add((row.to_json() for row in rows), source=source)
    if added is None:
        print(f"pool {path}: no correction it does not hold already; no new version")
        return
    print(
        f"pool {path}: version {added.version} ({added.added} rows added, {added.changed} "
        f"corrected, {added.rows} in all; previous {added.previous or 'none'} kept); "
        f"refit with: labelwise learn {path}"
    )


def import_notes(checked: Checked) -> list[str]:
    """One line a reason: the tasks left out, kept with unknown labels, or changed."""
    from framework.evaluation.review.gold_check import unknown_reason

    found, taxonomy = checked.corrections, checked.taxonomy
    notes = []
    for reason, tally in found.left_out.items():
        tasks = _tasks(tally.count)
        named = ""
        if taxonomy is not None and reason == unknown_reason(taxonomy):
            named = f" ({_names(checked.unknown_labels)}); --allow-unknown-labels keeps them"
        notes.append(f"{tasks} left out: {reason}{named} (first: task {tally.first})")
    if checked.kept_unknown and taxonomy is not None:
        notes.append(
            f"{_tasks(checked.kept_unknown)} kept with labels outside taxonomy {taxonomy.name} "
            f"({_names(checked.unknown_labels)}), as --allow-unknown-labels says"
        )
    if checked.none_dropped and taxonomy is not None:
        none = taxonomy.none_label
        notes.append(
            f"{_tasks(checked.none_dropped)} had {none!r} beside other labels: {none!r} dropped "
            f"(it stands alone in taxonomy {taxonomy.name})"
        )
    return notes


def _tasks(count: int) -> str:
    return "1 task" if count == 1 else f"{count} tasks"


def _names(counts: Counter[str], shown: int = 5) -> str:
    """The most frequent labels, quoted (a newline or an escape code shows as such)."""
    names = [repr(label[:60]) for label, _ in counts.most_common(shown)]
    more = f" and {len(counts) - shown} more" if len(counts) > shown else ""
    return ", ".join(names) + more
