"""What `labelwise tune` searches: the `tune.*` keys of its command line, and the recipes.

    settings = TuneSettings.from_overrides(["tune.trained=[off,ensemble]", ...])
    for recipe in settings.recipes(pool="dev.jsonl"): recipe.overrides

A recipe is one choice of strategy x examples (selection, k) x trained model (x its
features, where a trained model is used); its
overrides are what `labelwise classify` is given on top of the user's own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, ValidationError

from framework.config.run_settings import ExamplesSettings
from framework.config.strict import Strict
from framework.errors import ConfigError

__all__ = ["Recipe", "TuneSettings"]

# Each k is a recipe's examples.k: checked against that key's bounds when tune starts,
# not by each recipe's run once the search is under way.
ExamplesK = Annotated[int, *ExamplesSettings.model_fields["k"].metadata]


class TuneSettings(Strict):
    """The search: every combination of `strategies` x `examples` (x `k` where examples
    are shown) x `trained` (x `features` x `combine` x `cuts` where a model is used:
    trained.features, whose embeddings come from the run's own `embeddings.*`
    overrides, trained.combine and trained.cuts), each run on the
    calibration part (`calibrate_rows` rows), whose first half fits thresholds and
    second half picks the winner, then scored on the score part (`score_rows` other
    rows), both drawn with `seed`. `max_calls` and `max_minutes` stop starting new
    recipes; `out` is where it all goes."""

    strategies: list[Literal["labels_array", "per_label", "checklist"]] = Field(
        default=["labels_array"],
        min_length=1,
        description="The strategy options tried (strategy=NAME: conf/strategy/NAME.yaml).",
    )
    examples: list[Literal["none", "fixed", "similar", "per_label", "mmr"]] = Field(
        default=["none", "similar"],
        min_length=1,
        description="The examples options tried (none shows no examples), their pool the dev "
        "file itself.",
    )
    k: list[ExamplesK] = Field(
        default=[4],
        min_length=1,
        description="The examples.k values tried where examples are shown, each checked "
        "against examples.k's bounds when tune starts.",
    )
    trained: list[Literal["off", "ensemble", "cascade", "alone"]] = Field(
        default=["off", "ensemble"],
        min_length=1,
        description="The trained.use values tried, the dev file as trained.pool (alone asks "
        "no LLM: one recipe of it).",
    )
    features: list[Literal["tfidf", "embeddings", "both"]] = Field(
        default=["tfidf"],
        min_length=1,
        description="The trained.features values tried where a trained model is used "
        "(embeddings and both need an embedding model: embeddings=NAME).",
    )
    combine: list[Literal["one", "average"]] = Field(
        default=["one"],
        min_length=1,
        description="The trained.combine values tried where a trained model is used (average "
        "only with features=both: one model per feature set, averaged).",
    )
    cuts: list[Literal["fixed", "cv"]] = Field(
        default=["fixed"],
        min_length=1,
        description="The trained.cuts values tried where a trained model is used (cv: "
        "per-label cuts chosen on the pool's cross-fitted scores).",
    )
    calibrate_rows: int = Field(
        default=300,
        ge=20,
        description="Labeled dev rows every recipe runs on: the first half fits thresholds, "
        "the second picks the winner.",
    )
    score_rows: int = Field(
        default=500,
        ge=20,
        description="Other labeled dev rows every recipe is scored on: the leaderboard's "
        "numbers, never the choice's. The dev file needs calibrate_rows + score_rows.",
    )
    seed: int = Field(
        default=0,
        description="The seed of the shuffle that splits the dev file into the score and "
        "calibration parts: the same seed, the same parts.",
    )
    max_calls: int | None = Field(
        default=None,
        ge=1,
        description="Calls after which no new recipe starts (the one under way finishes; "
        "answers from the cache cost none); null: no limit.",
    )
    max_minutes: float | None = Field(
        default=None,
        gt=0,
        description="Minutes after which no new recipe starts (the one under way finishes); "
        "null: no limit.",
    )
    out: str | None = Field(
        default=None,
        description="The folder of runs/, experiment/, the leaderboard and tune.md; the same "
        "folder resumes a stopped search; null: outputs/tune/DATE_TIME.",
    )
    name: str = Field(
        default="tuned",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The winner's experiment: OUT/experiment/NAME.yaml, run with +experiment=NAME.",
    )

    @classmethod
    def from_overrides(cls, overrides: list[str]) -> TuneSettings:
        """The settings from `tune.key=value` arguments, read with Hydra's override
        grammar (lists as [a,b]; off is a word, not YAML's false)."""
        from hydra.core.override_parser.overrides_parser import OverridesParser

        values: dict[str, object] = {}
        try:
            for override in OverridesParser.create().parse_overrides(overrides):
                values[override.key_or_group.removeprefix("tune.")] = override.value()
        except Exception as error:
            raise ConfigError(f"tune: cannot read {' '.join(overrides)}: {error}") from None
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"] if not isinstance(part, int))
            message = str(first["msg"]).removeprefix("Value error, ")
            got = f" (got {first['input']!r})" if first["type"] != "missing" else ""
            raise ConfigError(f"tune.{key}: {message}{got}") from None

    def recipes(self, *, pool: str) -> list[Recipe]:
        """Every combination, in a stable order; `pool` is the labeled dev file."""
        found = []
        for strategy, examples, trained in itertools.product(
            self.strategies, self.examples, self.trained
        ):
            used = trained != "off"
            for k, features, combine, cuts in itertools.product(
                self.k if examples != "none" else [None],
                self.features if used else ["tfidf"],
                self.combine if used else ["one"],
                self.cuts if used else ["fixed"],
            ):
                if trained == "alone" and (examples != "none" or strategy != self.strategies[0]):
                    continue  # the model alone asks no LLM: one recipe is enough
                if combine == "average" and features != "both":
                    continue  # nothing to average
                found.append(Recipe(strategy, examples, k, trained, pool, features, combine, cuts))
        return found


@dataclass(frozen=True)
class Recipe:
    strategy: str
    examples: str
    k: int | None
    trained: str
    pool: str
    features: str = "tfidf"
    combine: str = "one"
    cuts: str = "fixed"

    @property
    def name(self) -> str:
        shown = "no-examples" if self.examples == "none" else f"{self.examples}-k{self.k}"
        # Only what differs from the first defaults is named: the names are as before.
        model = "".join(
            f"-{value}"
            for value, first in (
                (self.features, "tfidf"),
                (self.combine, "one"),
                ("cv" if self.cuts == "cv" else "fixed", "fixed"),
            )
            if value != first
        )
        return f"{self.strategy}.{shown}.trained-{self.trained}{model}"

    @property
    def overrides(self) -> list[str]:
        found = [f"strategy={self.strategy}"]
        if self.examples != "none":
            found += [f"examples={self.examples}", f"examples.k={self.k}"]
            found += [f"examples.pool={self.pool}"]
        if self.trained != "off":
            found += [f"trained.use={self.trained}", f"trained.pool={self.pool}"]
            found += [
                f"trained.{key}={value}"
                for key, value, first in (
                    ("features", self.features, "tfidf"),
                    ("combine", self.combine, "one"),
                    ("cuts", self.cuts, "fixed"),
                )
                if value != first
            ]
        return found

    @property
    def asks_the_llm(self) -> bool:
        return self.trained != "alone"
