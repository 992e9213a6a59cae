"""`labelwise compare RUN_DIR... | SWEEP_DIR [--out DIR]`: a leaderboard of runs."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["run"]

DESCRIPTION = """\
Compare runs that have metrics (their inputs had gold labels): a leaderboard
sorted by macro-F1, with 95% intervals, exact match, failed rows, tokens, cost
and rows/s. Give run folders, or a sweep folder (multirun/DATE/TIME) whose
numbered jobs are the runs. Writes leaderboard.html (one file to open in a
browser: the runs side by side, F1 by label, what differs in their configs),
leaderboard.md, per_label_f1.png (F1 of each label by run) and
cost_vs_macro_f1.png (tokens instead of cost when a run's cost is unknown) into
--out (default: the sweep folder, else ./comparison).

With tracking=mlflow (and tracking.uri=..., tracking.experiment=...) the comparison is
also logged to MLflow: a parent run holding the leaderboard, a child run per run folder
(its config, metrics and files).
"""


def run(argv: list[str]) -> int:
    from framework.evaluation.leaderboard import (
        BARS,
        LEADERBOARD,
        LEADERBOARD_HTML,
        SCATTER,
        find_runs,
        write_comparison,
    )
    from framework.run_record import RECORD_FILE

    cli = argparse.ArgumentParser(
        prog="labelwise compare",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_DIR",
        help="run folders or a sweep folder; tracking=mlflow tracking.KEY=VALUE log it too",
    )
    cli.add_argument("--out", metavar="DIR", help="where leaderboard.md and the charts go")
    args = cli.parse_intermixed_args(argv)  # run folders and overrides around --out
    # A sweep's run folders are often named key=value: a folder that exists is a folder.
    overrides = [arg for arg in args.runs if "=" in arg and not Path(arg).exists()]
    paths = [Path(arg) for arg in args.runs if arg not in overrides]
    _check_overrides(overrides)  # before any work
    runs = find_runs(paths)
    if args.out:
        out = Path(args.out)
    else:
        sweep = len(paths) == 1 and not (paths[0] / RECORD_FILE).exists()
        out = paths[0] if sweep else Path("comparison")
    print(write_comparison(runs, out))
    if overrides:
        _track(overrides, [(run.path, run.path.resolve().name) for run in runs], out)
    print(
        f"\nwrote {out / LEADERBOARD_HTML} (open it in a browser), {out / LEADERBOARD}, "
        f"{out / BARS} and {out / SCATTER}"
    )
    return 0


def _track(overrides: list[str], runs: list[tuple[Path, str]], out: Path) -> None:
    """tracking=mlflow: the comparison as a parent run, a child per compared run."""
    from framework.config.load import compose, load_run_config
    from framework.evaluation.leaderboard import LEADERBOARD, LEADERBOARD_HTML
    from framework.integrations import GroupInfo, observers_for

    observers = observers_for(load_run_config(compose(overrides)))
    info = GroupInfo("compare", out.resolve().name, {"runs": [str(path) for path, _ in runs]})
    with observers.group(info) as group:
        for path, name in runs:
            group.add_run(path, name)
        for name in (LEADERBOARD_HTML, LEADERBOARD):
            group.attach(out / name)


def _check_overrides(overrides: list[str]) -> None:
    from framework.errors import ConfigError

    strange = [o for o in overrides if not o.lstrip("+").startswith("tracking")]
    if strange:
        raise ConfigError(
            f"{strange[0]}: compare takes only tracking overrides (tracking=mlflow "
            "tracking.uri=... tracking.experiment=...); give run folders otherwise"
        )
