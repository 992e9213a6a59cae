"""`labelwise tune`: try recipes on a labeled dev file, pick one honestly, write it out.

    result = tune(settings, base_overrides, Path("dev.jsonl"))

    split     the dev file's rows, shuffled with tune.seed: a score part (score_rows)
              and a calibration part (calibrate_rows), no row in both
    per recipe   a classify run (in this process) of the calibration part; thresholds fit on its
              first half (rows by a hash of their id); the calibration part again with
              them (its answers come from the cache); the second half's macro-F1 with
              and without them is what the winner is chosen by. Then the score part,
              both ways, with 95% bootstrap intervals: what the leaderboard reports,
              never what the choice reads
    write     OUT/experiment/NAME.yaml (the winner as an experiment config, its
              thresholds beside it), OUT/leaderboard.{md,html} (the compare views of
              the score runs), OUT/tune.md and OUT/tune.json

Every run is a run folder under OUT/runs/RECIPE/; one that finished is not run again,
so the same command resumes a search that was stopped. The trained model's and the
examples' pool is the dev file itself: a row of it is scored by the model fit without
it and never shown as its own example. `max_calls` and `max_minutes` stop starting
new recipes once reached.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from framework.config.schema import ColumnNames
from framework.config.tune_settings import Recipe, TuneSettings
from framework.errors import ConfigError, InputError, LabelwiseError
from framework.integrations import GroupInfo, Observers
from framework.results import id_digest, read_result_rows
from framework.run_record import RunRecord, load_record

__all__ = ["Outcome", "TuneResult", "tune"]

log = logging.getLogger("labelwise")

CONFIG_GROUPS = (
    "provider",
    "model",
    "taxonomy",
    "prompt",
    "validation",
    "strategy",
    "examples",
    "embeddings",
)
_PER_USE = ("input", "output", "sample.", "hydra.")  # not part of a recipe


@dataclass(frozen=True)
class Outcome:
    """One recipe with one kind of thresholds: its choice score and its reported score."""

    recipe: str
    overrides: list[str]
    thresholds: str  # "default" or "calibrated"
    select_macro_f1: float  # on the calibration part's second half: what chooses
    score_macro_f1: float  # on the score part: what is reported
    score_macro_f1_ci: tuple[float, float]
    score_micro_f1: float
    score_run: str
    llm_rows: int
    calls: int  # made by this outcome's two runs (answers from the cache cost none)


@dataclass
class TuneResult:
    out: Path
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # recipes not run, with the reason
    winner: Outcome | None = None
    experiment: Path | None = None


def tune(
    settings: TuneSettings,
    base: list[str],
    source: Path,
    columns: ColumnNames,
    observers: Observers | None = None,
) -> TuneResult:
    """Run the search (or resume it) and write its outputs; `observers` (tracking, tracing)
    see each recipe as a group of its runs."""
    out = Path(settings.out or f"outputs/tune/{time.strftime('%Y-%m-%d_%H-%M-%S')}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"tune.out: cannot make the folder {out} ({error.strerror}); choose another "
            "folder with tune.out=DIR"
        ) from None
    score, calibration = _split(source, out / "splits", settings, columns)
    result = TuneResult(out)
    started, calls = time.monotonic(), 0
    for recipe in settings.recipes(pool=str(source.resolve())):
        why = _over_budget(settings, calls, started)
        if why is not None:
            result.skipped.append(f"{recipe.name}: {why}")
            continue
        recipe_group = GroupInfo("recipe", recipe.name, {"overrides": recipe.overrides})
        try:
            with (observers or Observers()).group(recipe_group):
                found = _run_recipe(recipe, base, out / "runs" / recipe.name, score, calibration)
        except _RecipeRefused as refused:
            result.skipped.append(f"{recipe.name}: {refused}")
            continue
        result.outcomes.extend(found)
        calls += sum(outcome.calls for outcome in found)
    if not result.outcomes:
        raise InputError(
            "tune: no recipe finished (" + "; ".join(result.skipped) + "); see the run "
            f"folders in {out / 'runs'}"
        )
    result.winner = max(result.outcomes, key=lambda o: (o.select_macro_f1, -o.llm_rows))
    result.experiment = _write_experiment(result.winner, base, out, settings.name)
    _write_reports(result, settings)
    return result


def _split(
    source: Path, folder: Path, settings: TuneSettings, columns: ColumnNames
) -> tuple[Path, Path]:
    """The score and calibration parts of the dev file's labeled rows (JSONL, CSV or
    Parquet, read with the run's columns), as JSONL: the same for the same seed."""
    from framework.inputs.readers import read_rows

    if not source.is_file():
        raise ConfigError(f"input: {source} is not a file; give the labeled dev rows to tune on")
    labeled = [
        {columns.id: row.item.id, columns.text: row.item.text, columns.labels: list(row.item.gold)}
        for row in read_rows(source, columns)
        if row.item is not None and row.item.gold is not None
    ]
    need = settings.score_rows + settings.calibrate_rows
    if len(labeled) < need:
        raise ConfigError(
            f"tune.score_rows: {source} has {len(labeled)} rows with gold labels, fewer than "
            f"tune.score_rows + tune.calibrate_rows ({need}); lower them"
        )
    order = list(range(len(labeled)))
    random.Random(settings.seed).shuffle(order)
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for name, chosen in (
        ("score", order[: settings.score_rows]),
        ("calibrate", order[settings.score_rows : need]),
    ):
        path = folder / f"{name}.jsonl"
        text = "".join(json.dumps(labeled[n], ensure_ascii=False) + "\n" for n in sorted(chosen))
        path.write_text(text, encoding="utf-8")
        parts.append(path)
    return parts[0], parts[1]


def _over_budget(settings: TuneSettings, calls: int, started: float) -> str | None:
    if settings.max_calls is not None and calls >= settings.max_calls:
        return f"tune.max_calls ({settings.max_calls:,}) reached"
    minutes = (time.monotonic() - started) / 60
    if settings.max_minutes is not None and minutes >= settings.max_minutes:
        return f"tune.max_minutes ({settings.max_minutes:g}) reached"
    return None


class _RecipeRefused(Exception):
    """A recipe whose config labelwise refuses (exit 2): skipped, with the reason."""


def _run_recipe(
    recipe: Recipe, base: list[str], folder: Path, score: Path, calibration: Path
) -> list[Outcome]:
    overrides = [*base, *recipe.overrides]
    first = _classify(folder / "calibrate", calibration, overrides)
    thresholds = _fit_thresholds(folder / "calibrate", folder / "thresholds.json")
    variants: list[tuple[str, list[str]]] = [("default", [])]
    if thresholds is not None:
        variants.append(("calibrated", [f"thresholds.path={thresholds.resolve()}"]))
    found = []
    for kind, extra in variants:
        suffix = "" if kind == "default" else "-calibrated"
        chosen_on = (
            first
            if kind == "default"
            else _classify(folder / f"calibrate{suffix}", calibration, [*overrides, *extra])
        )
        scored = _classify(folder / f"score{suffix}", score, [*overrides, *extra])
        metrics = json.loads((folder / f"score{suffix}" / "metrics.json").read_text())
        totals = scored.totals or {}
        found.append(
            Outcome(
                recipe=recipe.name,
                overrides=[*recipe.overrides, *extra],
                thresholds=kind,
                select_macro_f1=_choice_macro_f1(chosen_on),
                score_macro_f1=metrics["macro"]["f1"],
                score_macro_f1_ci=(metrics["macro_f1_ci"]["low"], metrics["macro_f1_ci"]["high"]),
                score_micro_f1=metrics["micro"]["f1"],
                score_run=str((folder / f"score{suffix}").resolve()),
                llm_rows=_llm_rows(totals) if recipe.asks_the_llm else 0,
                calls=int((chosen_on.totals or {})["calls"]) + int(totals["calls"]),
            )
        )
    return found


def _classify(folder: Path, source: Path, overrides: list[str]) -> RunRecord:
    """A classify run of `source` into `folder`, in this process (not again when it
    finished there before): a config labelwise refuses skips the recipe."""
    from framework.config.load import compose
    from framework.evaluation.job import run_job

    found = load_record(folder)
    if found is not None and found.finished:
        return found
    given = [
        *overrides,
        f"input={source.resolve()}",
        f"output={(folder / 'results.jsonl').resolve()}",
        "sample.size=null",
    ]
    log.info("tune: %s", folder)
    try:
        return run_job(compose(given), run_dir=folder, overrides=given, progress=False).record
    except ConfigError as refused:  # InputError included: this recipe cannot run
        raise _RecipeRefused(str(refused).splitlines()[0]) from None
    except LabelwiseError as error:
        raise InputError(
            f"tune: the run in {folder} failed ({error}); the same command resumes the search"
        ) from None


def _halves(results: Path) -> tuple[list[Any], list[Any]]:
    """The run's rows cut in two by a hash of their id: fit on the first, choose on the second."""
    rows = list(read_result_rows(results))
    return (
        [r for r in rows if id_digest(r.id) % 2 == 0],
        [r for r in rows if id_digest(r.id) % 2 == 1],
    )


def _fit_thresholds(run: Path, out: Path) -> Path | None:
    """Thresholds fit on the first half of a calibration run; None without confidence."""
    from framework.evaluation.calibration import calibrate, thresholds_artifact

    record = load_record(run)
    assert record is not None and record.results is not None
    results = Path(record.results)
    first, _ = _halves(results)
    try:
        chosen = calibrate(first, record.taxonomy.labels)
    except ValueError:  # no per-label confidence to calibrate (0/1 answers)
        return None
    taxonomy = record.taxonomy.model_dump()
    artifact = thresholds_artifact(
        results, record, taxonomy, rows=first, chosen=chosen, metric="f1"
    )
    out.write_text(json.dumps(artifact, indent=2) + "\n", encoding="utf-8")
    return out


def _choice_macro_f1(record: RunRecord) -> float:
    """Macro-F1 on the second half of a calibration run: the rows no threshold was fit on."""
    from framework.evaluation.metrics import compute_metrics

    _, other = _halves(Path(record.results or ""))
    taxonomy = record.taxonomy
    metrics = compute_metrics(other, taxonomy.labels, none_label=taxonomy.none_label)
    return round(metrics.macro.f1, 4)


def _llm_rows(totals: dict[str, Any]) -> int:
    paths = totals.get("by_path") or {}
    return int(paths["llm"]) if paths else int(totals.get("ok", 0)) + int(totals.get("failed", 0))


def _write_experiment(winner: Outcome, base: list[str], out: Path, name: str) -> Path:
    """OUT/experiment/NAME.yaml: the user's overrides and the winner's, as an experiment
    (labelwise classify 'hydra.searchpath=[file://OUT]' +experiment=NAME input=...)."""
    folder = out / "experiment"
    folder.mkdir(parents=True, exist_ok=True)
    defaults: list[str] = []
    values: dict[str, Any] = {}
    for override in [*base, *winner.overrides]:
        key, _, value = override.lstrip("+").partition("=")
        if key.startswith(_PER_USE):
            continue
        if key == "experiment":
            defaults.append(value)
        elif key in CONFIG_GROUPS:
            defaults.append(f"override /{key}: {value}")
        elif key == "thresholds.path":
            kept = folder / f"{name}.thresholds.json"
            shutil.copyfile(value, kept)
            values[key] = str(kept.resolve())
        else:
            values[key] = value
    from omegaconf import OmegaConf

    body = OmegaConf.to_yaml(OmegaConf.from_dotlist([f"{k}={v}" for k, v in values.items()]))
    lines = [
        "# @package _global_",
        f"# Written by labelwise tune: {winner.recipe}, thresholds "
        f"{winner.thresholds}; macro-F1 {winner.score_macro_f1:.3f} on the score part.",
    ]
    lines += ["defaults:", *(f"  - {entry}" for entry in defaults), "  - _self_", ""]
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + body, encoding="utf-8")
    return path


def _write_reports(result: TuneResult, settings: TuneSettings) -> None:
    """tune.md and tune.json; leaderboard.md and .html (framework.evaluation.leaderboard) of the
    score runs (the same views as any comparison)."""
    from framework.evaluation.leaderboard import find_runs, write_comparison

    out = result.out
    write_comparison(find_runs([Path(o.score_run) for o in result.outcomes]), out)
    (out / "tune.md").write_text(table(result) + "\n", encoding="utf-8")
    state = {
        "settings": settings.model_dump(),
        "outcomes": [asdict(o) for o in result.outcomes],
        "skipped": result.skipped,
        "winner": asdict(result.winner) if result.winner else None,
        "experiment": str(result.experiment) if result.experiment else None,
    }
    (out / "tune.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def table(result: TuneResult) -> str:
    """The outcomes as Markdown, best choice score first; the winner marked."""
    header = (
        "| recipe | thresholds | macro-F1, choice half | macro-F1, score part [95% CI] | "
        "micro-F1 | rows to the LLM | calls |\n|---|---|---|---|---|---|---|"
    )
    rows = []
    for o in sorted(result.outcomes, key=lambda o: -o.select_macro_f1):
        mark = " (chosen)" if o is result.winner else ""
        low, high = o.score_macro_f1_ci
        rows.append(
            f"| {o.recipe}{mark} | {o.thresholds} | {o.select_macro_f1:.3f} | "
            f"{o.score_macro_f1:.3f} [{low:.3f}, {high:.3f}] | {o.score_micro_f1:.3f} | "
            f"{o.llm_rows:,} | {o.calls:,} |"
        )
    return "\n".join([header, *rows])
