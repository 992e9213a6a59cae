"""The ledger of a run, and the budgets that stop starting new rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from framework.config.schema import BudgetSettings
from framework.records import Prediction, Usage
from framework.runner.journal import Resumed

__all__ = ["Note", "RunTotals", "over_budget"]

Note = tuple[int, str]  # a line of the end-of-run summary: (logging level, text)


@dataclass
class RunTotals:
    """The ledger of a run: rows, calls (retries and re-asks included), tokens, cost."""

    ok: int = 0
    failed: int = 0
    resumed: int = 0
    retried: int = 0  # rows that had failed before, classified again (run.retry_failed)
    duplicates: int = 0
    not_started: int = 0
    # run.mode=batch: rows whose requests wait for a provider batch job (not in the results
    # yet: the same command later collects them), and what the jobs sent may cost at most.
    waiting: int = 0
    resend: int = 0  # of these, rows whose job ended without them: the next run resends them
    committed_cost: float | None = 0.0
    committed_tokens: int = 0
    calls: int = 0
    cache_hits: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0
    elapsed: float = 0.0
    stopped_by: str | None = None
    resumed_from: Resumed | None = None
    warnings: list[str] = field(default_factory=list)
    # Rows by who labeled them, where a component routes rows (Prediction.extra["path"];
    # a cascade: "trained", the model alone, no call; "llm", sent to the LLM).
    by_path: dict[str, int] = field(default_factory=dict)
    # What the rows of each path cost (USD; None: a price litellm does not know): a
    # route's cost per tier.
    cost_by_path: dict[str, float | None] = field(default_factory=dict)
    # Rows by the route tier that decided them (Prediction.extra["tier"]).
    by_tier: dict[str, int] = field(default_factory=dict)
    # A routed run's spend by LLM tier, [cost (None: unpriced), tokens]: a row's calls
    # are the llm tier's unless the row splits them (extra["spent_by_tier"]: a further
    # LLM tier's rows); the calibration phase's are the llm tier's (budget.tiers).
    spent_by_tier: dict[str, list[Any]] = field(default_factory=dict)
    # What the run's driver adds to record.json, by section (merged key by key): where
    # the rows ran ("executor"), a distillation's fits ("trained": {"distill": ...}).
    record: dict[str, Any] = field(default_factory=dict)
    # The driver's lines of the end-of-run summary (framework.runner.drivers.base).
    notes: list[Note] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.ok + self.failed

    def spend(self, prediction: Prediction, *, tier: str = "llm") -> None:
        """The calls, tokens and cost of an answer that is not a row of the results (a
        route's calibration phase, asked of `tier`): in the ledger and under budget.*,
        no row counted."""
        self.calls += prediction.attempts
        self.cache_hits += prediction.cache_hits
        self.usage += prediction.usage
        if self.cost is not None and prediction.attempts:
            self.cost = None if prediction.cost is None else self.cost + prediction.cost
        self._tier_spend({tier: prediction.spent})

    def _tier_spend(self, parts: dict[str, Any]) -> None:
        for tier, (cost, tokens) in parts.items():
            was = self.spent_by_tier.setdefault(tier, [0.0, 0])
            was[0] = None if was[0] is None or cost is None else was[0] + cost
            was[1] += tokens

    def add(self, prediction: Prediction) -> None:
        if prediction.ok:
            self.ok += 1
        else:
            self.failed += 1
        self.calls += prediction.attempts
        self.cache_hits += prediction.cache_hits
        self.usage += prediction.usage
        path = prediction.extra.get("path")
        if isinstance(path, str):
            self.by_path[path] = self.by_path.get(path, 0) + 1
            spent = self.cost_by_path.get(path, 0.0)
            if spent is not None and prediction.attempts:
                spent = None if prediction.cost is None else spent + prediction.cost
            self.cost_by_path[path] = spent
        tier = prediction.extra.get("tier")
        if isinstance(tier, str):
            self.by_tier[tier] = self.by_tier.get(tier, 0) + 1
            parts = prediction.extra.get("spent_by_tier")
            if parts is None and (prediction.attempts or prediction.usage.total_tokens):
                parts = {"llm": prediction.spent}
            self._tier_spend(parts or {})
        if self.cost is not None and prediction.attempts:
            self.cost = None if prediction.cost is None else self.cost + prediction.cost


def over_budget(totals: RunTotals, budget: BudgetSettings) -> str | None:
    """Why no new row may start, or None."""
    spent, committed = totals.cost, totals.committed_cost
    if (
        budget.max_cost is not None
        and spent is not None
        and committed is not None
        and spent + committed >= budget.max_cost
    ):
        said = f"${spent:.4f} spent" + (
            f" and at most ${committed:.4f} in batch jobs" if committed else ""
        )
        return f"budget.max_cost (${budget.max_cost:g}) reached: {said}"
    tokens = totals.usage.total_tokens + totals.committed_tokens
    if budget.max_tokens is not None and tokens >= budget.max_tokens:
        return f"budget.max_tokens ({budget.max_tokens:,}) reached"
    for tier, cap in budget.tiers.items():  # a routed run's caps per LLM tier
        cost, used = totals.spent_by_tier.get(tier, [0.0, 0])
        if cap.max_cost is not None and cost is not None and cost >= cap.max_cost:
            return f"budget.tiers.{tier}.max_cost (${cap.max_cost:g}) reached: ${cost:.4f} spent"
        if cap.max_tokens is not None and used >= cap.max_tokens:
            return f"budget.tiers.{tier}.max_tokens ({cap.max_tokens:,}) reached"
    return None
