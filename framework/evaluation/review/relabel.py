"""Relabel in place the rows of a run whose trained-model decision a refit model changes.

    done = relabel(run, change)       # change: recertify(run, pool), the new model
    done.changed, done.rerun, done.calls, done.words()

Which rows: each ok row of the run's results is given its trained-model decision by the
run's model (at the run's certified route thresholds, if it has a route) and by the new
one (at the new thresholds), per label:
- routed: settled present, settled absent, or open; a row whose labels are all settled
  is the trained tier's, otherwise the LLM's (its open labels decided by the LLM's
  answer, `sources.llm` of the row, fused with the model as the run fused them) or
  people's (no LLM tier);
- not routed: the model's probability, fused with the row's LLM answer as the run did
  (trained.use=ensemble), against the label's threshold.
A row whose decision differs is run again, and only those: through the run's own
config with the new model (trained.pool=the pool's version), so an LLM answer whose
request is unchanged comes from the response cache; a row the trained tier settled
before and leaves open now is asked. Failed rows are left for a rerun of the run.

Resume: the rows to run again are fixed in RUN_DIR/relabel/VERSION/plan.json before
anything runs; they run as a run of their own in that folder (its results file resumes
as any run's does); then the run's results file is rewritten with their rows in place
(a temporary file, synced, renamed over it: never half-written), record.json gets a
`relabeled` entry, and metrics.json, report.md and report.html are written again from
the rows as they are now (record.json's metrics stay the run's). A kill at any point
and a rerun of the same command: every id once, nothing answered twice; a rerun after
it finished says so and changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.errors import InputError
from framework.evaluation.review.recertify import RunChange, RunOf, centers_of, rules_of_record
from framework.files import write_text_atomic
from framework.learning.trained import TrainedModel, fuse, text_digest
from framework.results import ResultRow, RunFolder

__all__ = ["Relabeled", "decisions", "relabel"]

RELABEL_DIR = "relabel"


@dataclass(frozen=True)
class Relabeled:
    version: str
    ok_rows: int
    rerun: int  # rows whose trained-model decision changed, run again
    changed: int  # of them, rows whose labels (or tier) changed
    calls: int
    cache_hits: int
    results: Path
    already: bool = False

    def words(self) -> str:
        if self.already:
            return (
                f"relabel: the run's rows were relabeled with version {self.version} "
                f"before; nothing changed ({self.results})"
            )
        return (
            f"relabeled {self.rerun} of {self.ok_rows} rows (the new model decides them "
            f"otherwise): {self.changed} rows changed labels or tier; {self.calls} calls, "
            f"{self.cache_hits} answers from the cache -> {self.results}"
        )


def relabel(run: RunOf, change: RunChange) -> Relabeled:
    folder = RunFolder.of(run.path)
    work = run.path / RELABEL_DIR / change.version
    extra = run.record.model_extra or {}
    done = [e for e in extra.get("relabeled") or [] if e.get("version") == change.version]
    if done:
        return Relabeled(
            change.version, done[-1].get("ok_rows", 0), 0, 0, 0, 0, folder.results, True
        )
    rows = list(folder.rows())
    ok = [row for row in rows if row.ok]
    plan_file = work / "plan.json"
    if plan_file.is_file():  # a relabel that was stopped: the same rows
        ids = list(json.loads(plan_file.read_text(encoding="utf-8"))["ids"])
    else:
        ids = _changed_ids(run, change, ok)
        write_text_atomic(plan_file, json.dumps({"version": change.version, "ids": ids}) + "\n")
    redone: dict[str, ResultRow] = {}
    calls = hits = 0
    if ids:
        output = _run_again(run, change, ids, work)
        for row in RunFolder.of(output).rows():
            if row.id in ids:
                redone[row.id] = row
                calls += row.attempts
                hits += row.cache_hits
        missing = [i for i in ids if i not in redone]
        if missing:
            raise InputError(
                f"relabel: {len(missing)} rows were not run again ({', '.join(missing[:3])}); "
                f"run the same command again to finish ({work})"
            )
    before = {row.id: row for row in rows}
    changed = sum(_differs(before[i], redone[i]) for i in redone)
    body = "".join(
        json.dumps(redone.get(row.id, row).to_json(), ensure_ascii=False) + "\n" for row in rows
    )
    write_text_atomic(folder.results, body)
    _note(run, change, len(ok), len(ids), changed)
    if ids:  # the run's metrics.json and report.html of its rows as they are now
        from framework.evaluation.report import score_run

        score_run(run.config, folder.results, run.path)
    return Relabeled(change.version, len(ok), len(ids), changed, calls, hits, folder.results)


def _differs(before: ResultRow, after: ResultRow) -> bool:
    return (sorted(before.labels), before.extra.get("tier"), before.status) != (
        sorted(after.labels),
        after.extra.get("tier"),
        after.status,
    )


def _changed_ids(run: RunOf, change: RunChange, ok: Sequence[ResultRow]) -> list[str]:
    """The ok rows whose trained-model decision the new model changes, in file order."""
    from framework.evaluation.review.recertify import model_for

    texts = _texts(run, {row.id for row in ok})
    rows = [row for row in ok if row.id in texts]
    items = [(row.id, texts[row.id]) for row in rows]
    llm = [_llm_of(row) for row in rows]
    old = decisions(run, model_for(run.config), rules_of_record(run.record), items, llm)
    new = decisions(run, change.model, change.rules_after, items, llm)
    return [row.id for row, a, b in zip(rows, old, new, strict=True) if a != b]


def decisions(
    run: RunOf,
    model: TrainedModel,
    rules: Mapping[str, tuple[float | None, float | None]],
    items: Sequence[tuple[str, str]],
    llm: Sequence[Mapping[str, float] | None],
) -> list[tuple[Any, ...]]:
    """Each row's trained-model decision (module): a tuple, equal when it is unchanged."""
    config = run.config
    labels = list(model.labels)
    cuts = centers_of(config, labels)
    scores = _engine_scores(model, items)
    weight = config.trained.weight if config.trained.use == "ensemble" else 1.0
    tiers = config.route.tiers or []
    found: list[tuple[Any, ...]] = []
    for n, row_scores in enumerate(scores):
        p = dict(zip(labels, (float(x) for x in row_scores), strict=True))
        answer = llm[n]
        fused = fuse(p, answer, weight) if answer is not None else p
        open_side = tuple(fused[x] >= cuts[k] - 1e-12 for k, x in enumerate(labels))
        if not tiers:
            found.append(("decided", open_side))
            continue
        sides: list[Any] = []
        for k, label in enumerate(labels):
            hi, lo = rules.get(label, (None, None))
            if hi is not None and p[label] >= hi - 1e-12:
                sides.append("present")
            elif lo is not None and p[label] <= lo + 1e-12:
                sides.append("absent")
            else:
                sides.append("open" if "llm" not in tiers else open_side[k])
        if all(side in ("present", "absent") for side in sides):
            found.append(("trained", tuple(sides)))
        elif "llm" in tiers:
            found.append(("llm", tuple(sides)))
        else:
            found.append(("human",))
    return found


def _engine_scores(model: TrainedModel, items: Sequence[tuple[str, str]]) -> Any:
    """rows x labels as the run's engine scores each row (TrainedModel.probabilities: a
    row of the model's pool by the model without its fold), in batches per fold."""
    import numpy as np

    from framework.learning.ensemble import on_cut_scale, probabilities

    scores = np.zeros((len(items), len(model.labels)), dtype=float)
    folds = [
        model.fold_of_id.get(i, model.fold_of_text.get(text_digest(text), -1)) for i, text in items
    ]
    for fold in sorted(set(folds)):
        at = [n for n, f in enumerate(folds) if f == fold]
        members = model.full if fold < 0 else model.by_fold[fold]
        scores[at] = probabilities(members, [items[n][1] for n in at])
    if model.cuts is not None:
        scores = on_cut_scale(scores, model.cuts)
    return scores


def _llm_of(row: ResultRow) -> dict[str, float] | None:
    sources = row.extra.get("sources")
    answer = sources.get("llm") if isinstance(sources, Mapping) else None
    return {str(k): float(v) for k, v in answer.items()} if isinstance(answer, Mapping) else None


def _texts(run: RunOf, ids: set[str]) -> dict[str, str]:
    """The run's input texts of these ids (the results keep no text)."""
    from framework.inputs.readers import read_rows

    source = Path(run.config.input or "")
    if not source.is_file():
        raise InputError(f"the run's input {source} is gone; restore it to relabel the run")
    found = {}
    for row in read_rows(source, run.config.columns):
        if row.item is not None and row.id in ids:
            found[row.id] = row.item.text
    return found


def _run_again(run: RunOf, change: RunChange, ids: Sequence[str], work: Path) -> Path:
    """The rows of `ids` run again with the new model, as a run of their own in `work`."""
    from omegaconf import OmegaConf

    from framework.evaluation.job import run_job
    from framework.inputs.readers import read_rows
    from framework.results import RESULTS_FILE
    from framework.secrets import REDACTED

    wanted, source = set(ids), Path(run.config.input or "")
    subset = work / "input.jsonl"
    if not subset.is_file():
        lines = []
        for row in read_rows(source, run.config.columns):
            if row.item is not None and row.id in wanted:
                kept: dict[str, Any] = {"id": row.id, "text": row.item.text}
                if row.item.gold is not None:
                    kept["labels"] = list(row.item.gold)
                lines.append(json.dumps(kept, ensure_ascii=False) + "\n")
        write_text_atomic(subset, "".join(lines))
    cfg = OmegaConf.create(dict(run.record.config))
    if OmegaConf.select(cfg, "provider.api_key") == REDACTED:
        cfg.provider.api_key = None  # it comes from the environment again
    output = work / RESULTS_FILE
    cfg.input, cfg.output = str(subset), str(output)
    cfg.columns.id, cfg.columns.text, cfg.columns.labels = "id", "text", "labels"
    cfg.trained.pool, cfg.trained.artifact = change.config.trained.pool, None
    cfg.sample.size = None
    run_job(
        cfg,
        run_dir=work,
        overrides=[*run.record.overrides, f"trained.pool={change.config.trained.pool}"],
        progress=False,
        describe={"relabels": str(run.path)},
    )
    return output


def _note(run: RunOf, change: RunChange, ok_rows: int, rerun: int, changed: int) -> None:
    """record.json's `relabeled` entry: the version, the rows, the new thresholds."""
    from framework.run_record import load_record, write_record

    record = load_record(run.path)
    assert record is not None
    extra = record.model_extra or {}
    entry = {
        "version": change.version,
        "pool": change.config.trained.pool,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ok_rows": ok_rows,
        "rerun": rerun,
        "changed": changed,
        "certified": change.certified or None,
        "work": str(run.path / RELABEL_DIR / change.version),
    }
    setattr(record, "relabeled", [*(extra.get("relabeled") or []), entry])  # noqa: B010 (a key the record keeps as extra)
    write_record(run.path, record)
