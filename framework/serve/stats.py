"""What `labelwise serve` counts, and GET /metrics in Prometheus' text format.

Latency percentiles come from the last 10,000 requests answered with rows (200): a
bounded window, so memory stays flat however long the service runs. Written here rather than with
prometheus_client: that library's Summary keeps no quantiles, and a dozen lines of
text format need no dependency.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

from framework.runner.totals import RunTotals

__all__ = ["ServiceStats"]

_WINDOW = 10_000
_QUANTILES = (0.5, 0.9, 0.99)


@dataclass
class ServiceStats:
    totals: RunTotals = field(default_factory=RunTotals)  # rows answered: ok, failed, cost
    requests: Counter[int] = field(default_factory=Counter)  # by HTTP status
    deadline_misses: int = 0  # rows cancelled at their request's deadline
    disconnects: int = 0  # clients gone before their answer
    in_flight: int = 0  # rows being classified now
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))

    def quantile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def prometheus(self) -> str:
        t = self.totals
        lines = [
            *_metric(
                "rows",
                "counter",
                "rows answered",
                [(f'status="{s}"', n) for s, n in (("ok", t.ok), ("failed", t.failed))],
            ),
            *_metric(
                "calls", "counter", "provider calls, retries and re-asks included", [("", t.calls)]
            ),
            *_metric(
                "cache_hits", "counter", "answers from the response cache", [("", t.cache_hits)]
            ),
            *_metric(
                "tokens",
                "counter",
                "tokens",
                [
                    ('kind="prompt"', t.usage.prompt_tokens),
                    ('kind="completion"', t.usage.completion_tokens),
                ],
            ),
            *_metric(
                "cost_usd",
                "counter",
                "cost in USD (NaN when a price is unknown)",
                [("", t.cost if t.cost is not None else float("nan"))],
            ),
            *_metric(
                "requests",
                "counter",
                "requests answered, by HTTP status",
                [(f'code="{code}"', n) for code, n in sorted(self.requests.items())],
            ),
            *_metric(
                "deadline_misses",
                "counter",
                "rows cancelled at their deadline",
                [("", self.deadline_misses)],
            ),
            *_metric(
                "client_disconnects",
                "counter",
                "clients gone before their answer",
                [("", self.disconnects)],
            ),
            *_metric("rows_in_flight", "gauge", "rows being classified", [("", self.in_flight)]),
        ]
        name = "labelwise_request_latency_seconds"
        lines += [
            f"# HELP {name} latency of the last {_WINDOW} requests answered with rows",
            f"# TYPE {name} summary",
        ]
        for q in _QUANTILES:
            value = self.quantile(q)
            lines.append(
                f'{name}{{quantile="{q}"}} {_number(value if value is not None else float("nan"))}'
            )
        lines += [f"{name}_sum {sum(self.latencies)}", f"{name}_count {len(self.latencies)}"]
        return "\n".join(lines) + "\n"


def _metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    full = f"labelwise_{name}" + ("_total" if kind == "counter" else "")
    out = [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}"]
    out += [
        f"{full}{{{labels}}} {_number(v)}" if labels else f"{full} {_number(v)}"
        for labels, v in samples
    ]
    return out


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(value) if isinstance(value, float) else str(value)
