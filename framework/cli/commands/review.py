"""`labelwise review export RUN_DIR --to label-studio`; `labelwise review import EXPORT`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from framework.errors import ConfigError
from framework.results import RunFolder

__all__ = ["run"]

DESCRIPTION = """\
Review a run's labels in Label Studio, and bring the corrections back as gold.

  labelwise review export outputs/DATE/TIME --to label-studio [--rows review|band|failed|all]
      writes label-studio/tasks.json (the rows, the run's labels as predictions with
      their confidence) and label-studio/labeling-config.xml (one choice a label of the
      taxonomy) into the run folder; create a project with that config in Label Studio
      and import tasks.json. With --url (and $LABEL_STUDIO_API_KEY) labelwise does both.
  labelwise review import EXPORT.json --to gold.jsonl
      reads the project's JSON (or JSON_MIN) export into {"id", "text", "labels"} rows:
      gold for `labelwise evaluate RUN --gold gold.jsonl`, or the input of a new run.
      With --url URL --project ID instead of EXPORT, labelwise fetches the export.

--rows: review (default) the rows in the abstain band (thresholds.abstain_band)
and the failed rows; band or failed only one of them; all every row.
"""

API_KEY_VARIABLE = "LABEL_STUDIO_API_KEY"


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.action == "export":
        return _export(args)
    return _import(args)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="labelwise review",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = cli.add_subparsers(dest="action", required=True, metavar="export|import")
    out = actions.add_parser("export", help="rows to review as Label Studio tasks")
    out.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (or its results file)")
    out.add_argument("--to", choices=["label-studio"], default="label-studio")
    out.add_argument(
        "--rows",
        choices=["review", "band", "failed", "all"],
        default="review",
        help="which rows (default: the abstain band and the failed rows)",
    )
    out.add_argument(
        "--out", metavar="DIR", help="where the files go (default RUN_DIR/label-studio)"
    )
    out.add_argument("--url", metavar="URL", help="also create a project there with the tasks")
    out.add_argument("--title", metavar="TITLE", help="the project's title (with --url)")
    back = actions.add_parser("import", help="annotators' export -> gold rows")
    back.add_argument("export", metavar="EXPORT", nargs="?", help="Label Studio's JSON export")
    back.add_argument("--to", metavar="FILE", required=True, help="the gold JSONL to write")
    back.add_argument("--url", metavar="URL", help="fetch the export from this Label Studio")
    back.add_argument("--project", metavar="ID", type=int, help="the project to fetch (with --url)")
    return cli


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
    return 0


def _import(args: argparse.Namespace) -> int:
    from framework.evaluation.review.corrections import corrections_of, read_corrections, write_gold

    if args.url and args.project is not None and not args.export:
        from framework.evaluation.review.studio import pull_export

        tasks = pull_export(args.url, os.environ.get(API_KEY_VARIABLE, ""), args.project)
        rows, skipped = corrections_of(tasks, f"project {args.project} at {args.url}")
    elif args.export and not args.url:
        rows, skipped = read_corrections(Path(args.export))
    else:
        raise ConfigError(
            "review import: give the export file (EXPORT.json), or --url URL --project ID "
            "to fetch it, not both"
        )
    target = Path(args.to)
    count = write_gold(rows, target)
    left = f"; {skipped} tasks without an annotation left out" if skipped else ""
    print(f"{count} gold rows -> {target}{left}")
    if count:
        print(f"score a run against them: labelwise evaluate RUN_DIR --gold {target}")
    return 0
