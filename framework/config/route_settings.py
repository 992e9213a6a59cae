"""route.* and quality.*: tiers of labelers, cheapest first, under a per-label target.

    labelwise classify route.tiers=[trained,llm,human] quality.precision=0.8 \\
        trained.use=ensemble trained.pool=labeled.jsonl input=new.jsonl

Checked here (exit 2 before any call): the tier names, their order, the targets'
ranges and their labels. What the calibration rows can support is checked when the
route is built (framework.engine.components.route), still before any call.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from framework.config.strict import Strict

__all__ = ["TIER_KINDS", "QualitySettings", "RouteSettings", "tier_order"]

# The tiers a route may name, in the order a route names them, cheapest first
# (framework.engine.components.route): trained (the trained model's probabilities),
# zero_shot (the zero-shot scorer's cosines to the label prototypes), llm (the run's
# configured LLM, fused with the trained model as trained.use=ensemble does), human
# (rows left to people). Between llm and human a route may name further LLM tiers of
# its own (route.llms: each the run's LLM configuration with other overrides).
TIER_KINDS = ("trained", "zero_shot", "llm", "human")
FIRST_TIERS = ("trained", "zero_shot")  # the tiers a target certifies


def tier_order(tier: str) -> float:
    """Where a tier stands in a route, cheapest first: a further LLM tier (any name
    not a kind) after llm and before human, in the order the route names them."""
    return TIER_KINDS.index(tier) if tier in TIER_KINDS else TIER_KINDS.index("llm") + 0.5


Floor = float | dict[str, float] | None


class RouteSettings(Strict):
    """route.tiers: the labelers a row goes down until one settles every label; [] (the
    default): no route. on_failure: what a failed LLM call does with its row: wait (the
    row fails and waits for a rerun) or next (it goes to the next tier, people)."""

    llms: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Further LLM tiers a route may name after llm, each the run's LLM "
        "configuration with these overrides of provider, model, prompt, strategy, "
        "validation or examples: {strong: {provider: openai, model: gpt-4o-mini}} (or a "
        "list of override strings) (docs/routing.md).",
    )
    tiers: list[str] = Field(
        default_factory=list,
        description="Tiers, cheapest first: trained, zero_shot, llm, the names of "
        "route.llms, human (people, last); [] no route (docs/routing.md).",
    )
    on_failure: Literal["wait", "next"] = Field(
        default="wait",
        description="A row whose LLM call fails: wait (failed, rerun to retry) or next (it "
        "goes to the next tier: people); a row is never labeled by a tier not in the route.",
    )

    @field_validator("llms", mode="before")
    @classmethod
    def _as_overrides(cls, llms: Any) -> Any:
        """Each tier's overrides as override strings ({model: gpt-4o-mini} is
        [model=gpt-4o-mini]: the mapping reads without quotes on the command line)."""
        if not isinstance(llms, dict):
            return llms
        return {
            name: [f"{key}={_said(value)}" for key, value in overrides.items()]
            if isinstance(overrides, dict)
            else overrides
            for name, overrides in llms.items()
        }

    @field_validator("llms")
    @classmethod
    def _named_apart(cls, llms: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, overrides in llms.items():
            # A tier's name names its calibration answers' file (<results>.route/NAME.jsonl)
            # and its rows' `tier`: letters, digits, - and _, and not the llm tier's file.
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name) or name == "calibration":
                raise ValueError(
                    f"{name!r}: a further LLM tier's name is letters, digits, - and _ "
                    "(not 'calibration'), e.g. strong or gpt-4o-mini"
                )
            if name in TIER_KINDS:
                raise ValueError(f"{name!r} is a tier kind; give the further LLM tier another name")
            if not overrides:
                raise ValueError(
                    f"{name}: no override; a further LLM tier names what differs from the "
                    "run's LLM, e.g. [provider=openai, model=gpt-4o-mini]"
                )
        return llms

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, tiers: list[str], info: ValidationInfo) -> list[str]:
        further = list(info.data.get("llms") or {})
        for tier in tiers:
            if tier not in TIER_KINDS and tier not in further:
                known = ", ".join([*TIER_KINDS, *further])
                raise ValueError(
                    f"{tier!r} is not a tier; one of {known} (a further LLM tier is "
                    "defined under route.llms)"
                )
        named = [tier for tier in tiers if tier not in TIER_KINDS]
        if named and "llm" not in tiers:
            raise ValueError(
                f"{tiers}: a further LLM tier ({', '.join(named)}) is asked what the llm tier "
                "leaves open; name llm before it"
            )
        if len(set(tiers)) != len(tiers):
            raise ValueError(f"{tiers}: a tier is named twice")
        if "human" in tiers and tiers[-1] != "human":
            raise ValueError(f"{tiers}: human must be the last tier (people decide what is left)")
        if tiers and tiers[0] not in FIRST_TIERS:
            raise ValueError(
                f"{tiers}: the first tier must be trained or zero_shot (the tiers a target "
                "certifies); a route of the LLM alone is a plain run"
            )
        order = [tier_order(tier) for tier in tiers]
        if order != sorted(order):
            raise ValueError(
                f"{tiers}: tiers go cheapest first, in the order trained, zero_shot, llm, "
                "further LLM tiers (route.llms), human"
            )
        return tiers


class QualitySettings(Strict):
    """The per-label target each tier is certified against (docs/routing.md)."""

    precision: Floor = Field(
        default=None,
        description="Per-label precision floor of a tier's accepted 'present' decisions: one "
        "number for every label or {label: floor}; null: none.",
    )
    recall: Floor = Field(
        default=None,
        description="Per-label recall floor of the output (the tiers' 'absent' decisions "
        "share its allowance); null: the precision floor.",
    )
    alpha: float = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description="The floors hold together with probability 1 - alpha (learn-then-test, "
        "exact Clopper-Pearson bounds).",
    )
    calibration: str | None = Field(
        default=None,
        description="Labeled rows (id, text, labels) the tiers are certified on; null: the "
        "trained model's pool, each row scored by the model fit without it.",
    )
    f1_within: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Instead of floors: each label's F1 (so macro-F1) of the output at most "
        "this far below the llm tier's, certified on quality.llm_rows labeled rows it "
        "answers first; the llm tier decides what the cheaper tier leaves (docs/routing.md).",
    )
    reference: Literal["gold", "llm"] = Field(
        default="gold",
        description="What the tiers are certified against: gold (the calibration rows' "
        "labels) or llm (no gold: the LLM's answers to quality.llm_rows rows drawn from "
        "quality.calibration or the input; the floors then mean agreement with the LLM).",
    )
    llm_rows: int = Field(
        default=0,
        ge=0,
        description="Certify the llm tier: before any input row, the LLM answers this many "
        "calibration rows (drawn with model.seed, 0 when null); 0: the llm tier is the "
        "uncertified last machine tier (docs/routing.md).",
    )

    guarantee: Literal["rate", "realised"] = Field(
        default="rate",
        description="What the floors hold for: rate (the rate of every decision a tier "
        "settles) or realised (each label's realised precision of the rows the route decides "
        "by machine in this run's output; recall as a rate; docs/routing.md).",
    )
    output_rows: int | None = Field(
        default=None,
        ge=1,
        description="quality.guarantee=realised: the rows the run labels (its realised "
        "figures are a draw of that size); null: the input's row count (jsonl, parquet; "
        "sample.size when smaller). A lower bound is safe.",
    )

    @field_validator("guarantee")
    @classmethod
    def _realised_alone(cls, guarantee: str, info: ValidationInfo) -> str:
        # the keys above it are validated first: their values are in info.data
        known = info.data
        if guarantee == "realised" and (
            known.get("llm_rows")
            or known.get("f1_within") is not None
            or known.get("reference", "gold") != "gold"
        ):
            raise ValueError(
                "realised certifies the tiers before the LLM on gold calibration rows; use "
                "it without quality.llm_rows, quality.f1_within and quality.reference=llm, "
                "or set quality.guarantee=rate"
            )
        return guarantee

    @field_validator("precision", "recall")
    @classmethod
    def _in_range(cls, floor: Floor) -> Floor:
        values = floor.values() if isinstance(floor, dict) else [floor]
        for value in values:
            if value is not None and not 0 < value < 1:
                raise ValueError(f"{value}: a floor is a share between 0 and 1 (exclusive)")
        return floor


def _said(value: object) -> str:
    """A mapping's value as an override writes it (true, not True)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
