"""A provider client that sends nothing: it keeps every request it is given and answers
each from a script. `labelwise plan` runs the engine over it, so a plan is made by the
very code path that sends; `labelwise reproduce --dry-run` compares the requests a run
would send today with the ones it sent then."""

from __future__ import annotations

from collections.abc import Callable

from framework.providers.compile import CompiledRequest
from framework.records import Completion

__all__ = ["RecordingTransport"]


class RecordingTransport:
    def __init__(self, answer: Callable[[CompiledRequest], Completion]) -> None:
        self.answer = answer
        self.requests: list[CompiledRequest] = []

    async def send(self, request: CompiledRequest) -> Completion:
        self.requests.append(request)
        return self.answer(request)

    async def release(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
