"""Telling a dead or hanging provider from a bad row.

Every call's outcome is reported here. A call that could not reach the provider
(no connection, a timeout, a 5xx) extends the streak; any completion ends it.
Once `limit` calls in a row have failed that way, the provider is taken for
down: the current call and every later one raise ProviderDown, the run stops
with one line and exit 1, and the rows those calls were for stay undone, so a
plain rerun picks them up once the provider is back. Rows that failed during
a streak that ended with a completion are real failures and are written.
"""

from __future__ import annotations

from collections.abc import Callable

from framework.config.run_settings import RunSettings
from framework.errors import ProviderDown, ProviderError
from framework.providers.compile import CompiledRequest
from framework.providers.transports.base import Layer, Transport
from framework.records import Completion

__all__ = ["HealthWatch", "ProviderHealth", "unreachable_limit"]


def unreachable_limit(run: RunSettings) -> int:
    """Calls in a row that may fail to reach a provider before it is taken for down:
    run.max_unreachable_calls, or max(10, 2 x run.concurrency)."""
    return run.max_unreachable_calls or max(10, 2 * run.concurrency)


class ProviderHealth:
    def __init__(
        self, limit: int, provider: str, diagnose: Callable[[], str | None] | None = None
    ) -> None:
        self.limit = limit
        self.provider = provider
        self.diagnose = diagnose  # says why, when it can (a local server that died)
        self.streak = 0
        self.completions = 0  # calls that came back, ever: a row failed before the last
        self.down: ProviderDown | None = None  # one of them came back is not a dead provider

    def check(self) -> None:
        """Raise ProviderDown if the provider was taken for down."""
        if self.down is not None:
            raise self.down

    def reset(self) -> None:
        """Give the provider another chance (a service lets a call through again after a
        pause; a run never does: it stops)."""
        self.streak = 0
        self.down = None

    def answered(self) -> None:
        self.streak = 0
        self.completions += 1

    def failed(self, error: ProviderError) -> None:
        """Count a failed call; raise ProviderDown when this one ends the provider's chances."""
        if not error.unreachable:
            self.streak = 0  # it answered, if only to refuse
            return
        self.streak += 1
        if self.streak >= self.limit and self.down is None:
            before = "" if self.completions else " (none has come back since the run started)"
            why = self.diagnose() if self.diagnose is not None else None
            self.down = ProviderDown(
                f"{self.provider} is not answering: {self.streak} calls in a row failed{before}; "
                f"the last: {str(error).rstrip('.')}. The run stopped; the rows not done are "
                "left for a rerun (run the same command once it is back)"
                + (f". {why}" if why else ""),
                status=error.status,
            )
        self.check()


class HealthWatch(Layer):
    """Tells ProviderHealth how each call went, and refuses calls once it says the
    provider is down."""

    def __init__(self, inner: Transport, health: ProviderHealth) -> None:
        super().__init__(inner)
        self.health = health

    async def send(self, request: CompiledRequest) -> Completion:
        self.health.check()
        try:
            completion = await self.inner.send(request)
        except ProviderError as error:
            if not error.fatal:
                self.health.failed(error)
            raise
        self.health.answered()
        return completion
