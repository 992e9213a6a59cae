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
    cli.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders or a sweep folder")
    cli.add_argument("--out", metavar="DIR", help="where leaderboard.md and the charts go")
    args = cli.parse_args(argv)
    paths = [Path(p) for p in args.runs]
    runs = find_runs(paths)
    if args.out:
        out = Path(args.out)
    else:
        sweep = len(paths) == 1 and not (paths[0] / RECORD_FILE).exists()
        out = paths[0] if sweep else Path("comparison")
    print(write_comparison(runs, out))
    print(
        f"\nwrote {out / LEADERBOARD_HTML} (open it in a browser), {out / LEADERBOARD}, "
        f"{out / BARS} and {out / SCATTER}"
    )
    return 0
