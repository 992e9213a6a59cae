"""A run's trained model and route, refit and recertified on a labeled pool's new version.

    run = RunOf.load(run_dir)                       # its record and its config
    change = recertify(run, pool)                   # the newest version of the pool
    change.before["joy"].recall, change.after["joy"].recall    # on the same rows
    change.rules_before["joy"], change.rules_after["joy"]       # (hi, lo) of the route

The new model is the run's own kind (its trained.* settings: folds, C, cuts), fit on
the pool's newest version the way a run fits it (framework.learning.prepare: kept in
the cache folder by the pool's hash and the settings), so a run with
`trained.pool=POOL/versions/V.jsonl` loads it without a fit. The run's model is the
"before". Both are estimated on the same rows: the new version's, each row scored by a
model that never saw its text (relearn.scores_by_text), at the run's thresholds.

With a route (route.tiers), its thresholds are certified again by the route component
itself, built as a run builds it on the new version (calibration rows:
quality.calibration, else the new version cross-fitted), and the rows the trained
tier settles are counted before (the run's model at the run's certified thresholds)
and after, on the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.config.schema import RunConfig
from framework.errors import ConfigError, InputError
from framework.learning.labeled_pool import LabeledPoolDir
from framework.learning.relearn import Estimate, estimates_of, scores_by_text
from framework.learning.trained import TrainedModel
from framework.run_record import RunRecord
from framework.secrets import REDACTED

__all__ = ["RunChange", "RunOf", "config_on", "model_for", "recertify", "rules_of_record"]


@dataclass(frozen=True)
class RunOf:
    """A run folder: its record and its config (record.json's, as the run composed it)."""

    path: Path
    record: RunRecord
    config: RunConfig

    @property
    def labels(self) -> list[str]:
        from framework.labels.taxonomy import label_ids

        return list(label_ids(self.config.taxonomy))

    @classmethod
    def load(cls, run_dir: Path) -> RunOf:
        from omegaconf import OmegaConf

        from framework.config.load import load_run_config
        from framework.results import RESULTS_FILE
        from framework.run_record import RECORD_FILE, load_record

        record = load_record(run_dir) if run_dir.is_dir() else None
        if record is None or not record.config:
            raise InputError(
                f"{run_dir} has no {RECORD_FILE} with the run's config; give a run folder "
                "made by labelwise classify"
            )
        source = Path(record.input.path or record.input.given or "")
        output = Path(record.results or run_dir / RESULTS_FILE)
        cfg = OmegaConf.create(dict(record.config))  # as `labelwise reproduce` reads it
        if OmegaConf.select(cfg, "provider.api_key") == REDACTED:
            cfg.provider.api_key = None  # it comes from the environment again
        cfg.input, cfg.output = str(source), str(output)
        config = load_run_config(cfg)
        if config.trained.use == "off" or config.distill.sample is not None:
            raise ConfigError(
                f"trained.use: the run {run_dir} has no trained model fit on a pool "
                f"(trained.use={config.trained.use}); learn --run needs a run that used one"
            )
        return cls(run_dir, record, config)


def config_on(config: RunConfig, version_file: Path) -> RunConfig:
    """The run's config with its trained model fit on `version_file`."""
    trained = config.trained.model_copy(update={"pool": str(version_file), "artifact": None})
    return config.model_copy(update={"trained": trained})


def model_for(config: RunConfig) -> TrainedModel:
    """The config's trained model, fit and kept as a run fits it when there is none."""
    from framework.labels.taxonomy import label_ids
    from framework.learning.prepare import ensure_trained_model
    from framework.learning.trained import load_model

    ensure_trained_model(config)
    return load_model(config, label_ids(config.taxonomy))


def rules_of_record(record: RunRecord) -> dict[str, tuple[float | None, float | None]]:
    """The trained tier's certified (hi, lo) per label the run's rows were decided with:
    the latest relabel's, else the run's route section's; {} for a run without a route."""
    extra = record.model_extra or {}
    relabeled = extra.get("relabeled") or []
    certified = (
        relabeled[-1].get("certified")
        if relabeled and relabeled[-1].get("certified")
        else ((extra.get("route") or {}).get("certified") or {}).get("trained")
    )
    return {label: (rule.get("hi"), rule.get("lo")) for label, rule in (certified or {}).items()}


@dataclass
class RunChange:
    version: str
    rows: int  # rows of the new version the estimates are on
    before: dict[str, Estimate]
    after: dict[str, Estimate]
    config: RunConfig  # the run's config on the new version
    model: TrainedModel
    routed: bool = False
    rules_before: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    rules_after: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    certified: dict[str, Any] = field(default_factory=dict)  # record.json's form
    settled_before: int = 0  # rows of the version the trained tier settles entirely
    settled_after: int = 0


def recertify(run: RunOf, pool: LabeledPoolDir, old_model: TrainedModel | None = None) -> RunChange:
    """The run's model refit on the pool's newest version, and what changed (module)."""
    import numpy as np

    head = pool.head()
    if head.version is None:
        raise InputError(
            f"{pool.path} holds no labeled pool yet; add rows with labelwise review import "
            "EXPORT --to gold.jsonl --pool DIR, or labelwise learn DIR --add FILE"
        )
    labels = run.labels
    config = config_on(run.config, pool.version_file(head.version))
    old = old_model or model_for(run.config)
    new = model_for(config)
    rows = pool.rows(head.version)
    texts = [str(r.get("text") or "") for r in rows]
    gold = [list(r.get("labels") or []) for r in rows]
    cuts = centers_of(run.config, labels)
    old_scores, new_scores = scores_by_text(old, texts), scores_by_text(new, texts)
    change = RunChange(
        head.version,
        len(rows),
        estimates_of(old_scores, gold, labels, cuts),
        estimates_of(new_scores, gold, labels, cuts),
        config,
        new,
    )
    if run.config.route.tiers:
        from framework.learning.certify import LabelRule, TierRules

        before = rules_of_record(run.record)
        change.certified = certify_trained_tier(config)
        after = {x: (r.get("hi"), r.get("lo")) for x, r in change.certified.items()}
        change.routed, change.rules_before, change.rules_after = True, before, after

        def rules_of(given: dict[str, tuple[float | None, float | None]]) -> TierRules:
            return TierRules(
                "trained", tuple(LabelRule(x, *given.get(x, (None, None))) for x in labels)
            )

        old_rules, rules = rules_of(before), rules_of(after)
        change.settled_before = int(np.asarray(old_rules.settled(old_scores)).all(axis=1).sum())
        change.settled_after = int(np.asarray(rules.settled(new_scores)).all(axis=1).sum())
    now = pool.head().version
    if now != head.version:
        raise InputError(
            f"the pool {pool.path} changed while learning (version {head.version} became "
            f"{now}); its new version is kept: run labelwise learn again"
        )
    return change


def centers_of(config: RunConfig, labels: list[str]) -> list[float]:
    """Each label's threshold in the run (thresholds.*), the route's center."""
    from framework.labels.thresholds import load_thresholds

    values = load_thresholds(config).values
    return [float(values.get(label, config.thresholds.default)) for label in labels]


def certify_trained_tier(config: RunConfig) -> dict[str, Any]:
    """The trained tier's certified rules (record.json's form), certified by the route
    component itself: the engine's components built for the config, through their
    table, as a run builds them before its first row."""
    from framework.engine.components import Parts, build_components
    from framework.labels.decide import LabelDecider
    from framework.labels.label_set import LabelSet
    from framework.labels.thresholds import load_thresholds
    from framework.learning.prepare import prepare_run

    prepare_run(config)  # the model (fit already) and an examples index, as a run has them
    labels = LabelSet.build(config.taxonomy, config.validation)
    settings = config.thresholds
    decider = LabelDecider(
        labels, load_thresholds(config).values, default=settings.default, band=settings.abstain_band
    )
    parts = Parts(config, labels, decider)
    build_components(parts)
    described = parts.built["route"].describe()["route"]
    return dict(described["certified"]["trained"])
