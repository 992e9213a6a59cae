"""`labelwise tune input=DEV [overrides] [tune.key=value ...]`."""

from __future__ import annotations

from pathlib import Path

from framework.errors import ConfigError

__all__ = ["run"]

DESCRIPTION = """\
usage: labelwise tune input=DEV.jsonl [overrides] [tune.key=value ...]

Try recipes (strategy x labeled examples x trained model) on a labeled dev file and
write the best as an experiment config. The dev rows are split (tune.seed) into a
calibration part and a score part. Each recipe labels the calibration part; its
first half fits per-label thresholds, its second half chooses the winner; the score
part, never read by the choice, gives the figures with 95% intervals.

  tune.strategies=[labels_array,checklist]   strategies tried (labels_array)
  tune.examples=[none,similar,mmr]           example selections (none, similar)
  tune.k=[4,8]                               examples shown (4)
  tune.trained=[off,ensemble,cascade,alone]  trained model uses (off, ensemble)
  tune.features=[tfidf,embeddings,both]      its features (tfidf; the others need embeddings=...)
  tune.calibrate_rows=300 tune.score_rows=500 tune.seed=0
  tune.max_calls=N tune.max_minutes=M        stop starting recipes past these
  tune.out=DIR tune.name=NAME                where it goes (outputs/tune/DATE), the name
  tracking=mlflow                            the search, each recipe and each run as
                                             nested MLflow runs (docs/tracking.md)

Writes DIR/experiment/NAME.yaml (use it with
'hydra.searchpath=[file://DIR]' +experiment=NAME), DIR/tune.md (every recipe),
DIR/leaderboard.md and .html (the score runs compared) and DIR/tune.json. Each run
is a run folder under DIR/runs; the same command resumes a stopped search.

example:
  labelwise tune +experiment=goemotions_ekman input=examples/goemotions_ekman/dev.jsonl \\
      tune.trained=[off,ensemble,cascade] tune.out=outputs/tune/goemotions
"""


def run(argv: list[str]) -> int:
    from framework.config.load import compose, load_run_config
    from framework.config.tune_settings import TuneSettings
    from framework.evaluation.tuning import table, tune
    from framework.integrations import GroupInfo, observers_for

    if any(arg in ("-h", "--help") for arg in argv):
        print(DESCRIPTION, end="")
        return 0
    ours = [arg for arg in argv if arg.startswith("tune.")]
    base = [arg for arg in argv if not arg.startswith("tune.")]
    settings = TuneSettings.from_overrides(ours)
    config = load_run_config(compose(base))  # a bad override fails here, before any run
    if not config.input:
        raise ConfigError("input: required; name the labeled dev file: labelwise tune input=FILE")
    given = [arg for arg in base if not arg.lstrip("+").startswith(("input=", "output="))]
    observers = observers_for(config)  # tracking=mlflow: a parent run, a child per recipe
    search = GroupInfo("tune", settings.name, {"tune": settings.model_dump(), "overrides": given})
    with observers.group(search) as group:
        result = tune(settings, given, Path(config.input), config.columns, observers)
        for name in ("tune.md", "leaderboard.html", "tune.json"):
            group.attach(result.out / name)
        if result.winner is not None:
            group.metrics(
                {
                    "winner.select_macro_f1": result.winner.select_macro_f1,
                    "winner.score_macro_f1": result.winner.score_macro_f1,
                }
            )
    print(table(result))
    for skipped in result.skipped:
        print(f"not run: {skipped}")
    winner = result.winner
    assert winner is not None and result.experiment is not None
    print(
        f"\nchosen: {winner.recipe}, thresholds {winner.thresholds} (macro-F1 "
        f"{winner.select_macro_f1:.3f} on the calibration part's second half; "
        f"{winner.score_macro_f1:.3f} [{winner.score_macro_f1_ci[0]:.3f}, "
        f"{winner.score_macro_f1_ci[1]:.3f}] on the score part)"
    )
    out = result.out
    print(
        f"wrote {result.experiment}: labelwise classify 'hydra.searchpath=[file://"
        f"{out.resolve()}]' +experiment={settings.name} input=FILE\n"
        f"and {out / 'tune.md'}, {out / 'leaderboard.html'}, {out / 'tune.json'}"
    )
    return 0
