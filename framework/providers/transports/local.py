"""The provider client of provider=local: it starts the embedded llama.cpp server at the
first call (not when a run is only planned), hands every call to a client of it, and
stops it when closed. `died()` says what became of a server that exited meanwhile.

A call that cannot reach a server process that died (killed, out of memory) starts it
again once, says so in one line, and is sent again; a second death stops the run with
one line (ProviderDown), leaving the rows not done for a rerun. Calls to the xllamacpp
runtime carry a compact JSON grammar (framework.providers.local.answers)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from framework.config.schema import LocalServerSettings
from framework.errors import ProviderDown, ProviderError
from framework.providers.compile import CompiledRequest
from framework.providers.local.answers import compact_answers
from framework.providers.local.models import ModelFile
from framework.providers.local.server import LocalServer
from framework.providers.transports.base import Transport
from framework.records import Completion

__all__ = ["LocalServerTransport"]

log = logging.getLogger("labelwise")

REVIVALS = 1  # a server that dies twice in a run dies of something a restart does not fix
_DEATH_SECONDS = 2.0  # a reset connection can come before the process is seen to exit


class LocalServerTransport:
    def __init__(
        self,
        model: ModelFile,
        settings: LocalServerSettings,
        *,
        alias: str,
        logprobs: bool,
        client_for: Callable[[Sequence[str]], Transport],
    ) -> None:
        self.server = LocalServer(model, settings, alias=alias, logprobs=logprobs)
        self._client_for = client_for
        self._client: Transport | None = None
        self._retired: list[Transport] = []  # clients of dead servers, closed at the end
        self._generation = 0  # how many times the client was replaced
        self._starting = asyncio.Lock()

    async def send(self, request: CompiledRequest) -> Completion:
        client, generation = await self._current()
        if self.server.runtime.runtime.compact_answers:
            request = compact_answers(request)
        try:
            return await client.send(request)
        except ProviderError as error:
            if not error.unreachable:
                raise
            await self._revive(generation, error)
        client, _ = await self._current()
        return await client.send(request)

    def died(self) -> str | None:
        return self.server.died()

    async def release(self) -> None:
        if self._client is not None:
            await self._client.release()

    async def aclose(self) -> None:
        for client in [*self._retired, *([self._client] if self._client else [])]:
            await client.aclose()
        self._client, self._retired = None, []
        self.server.stop()

    async def _current(self) -> tuple[Transport, int]:
        if self._client is None:
            async with self._starting:
                if self._client is None:
                    await asyncio.to_thread(self.server.start)
                    self._client = self._client_for(self.server.urls)
        return self._client, self._generation

    async def _revive(self, generation: int, error: ProviderError) -> None:
        """Start the dead processes again once, or raise: `error` when none died (a timeout
        is the retry layer's), ProviderDown when one died after its revival."""
        async with self._starting:
            if self._generation != generation:
                return  # another call revived it already
            why = await asyncio.to_thread(_death, self.server)
            if why is None:
                raise error
            if self.server.revivals >= REVIVALS:
                raise ProviderDown(
                    f"{why}, and it had been started again {self.server.revivals} time(s) "
                    "already. The run stopped; the rows not done are left for a rerun (run the "
                    "same command again)"
                )
            log.warning("%s; starting it again, the run goes on", why)
            urls = await asyncio.to_thread(self.server.revive)
            if self._client is not None:
                self._retired.append(self._client)
            self._client = self._client_for(urls)
            self._generation += 1


def _death(server: LocalServer) -> str | None:
    """What became of a process that died, waiting a moment for its exit to be seen."""
    deadline = time.monotonic() + _DEATH_SECONDS
    while (why := server.died()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return why
