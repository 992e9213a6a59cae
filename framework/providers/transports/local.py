"""The provider client of provider=local: it starts the embedded llama.cpp server at the
first call (not when a run is only planned), hands every call to a client of it, and
stops it when closed. `died()` says what became of a server that exited meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from framework.config.schema import LocalServerSettings
from framework.providers.compile import CompiledRequest
from framework.providers.local.models import ModelFile
from framework.providers.local.server import LocalServer
from framework.providers.transports.base import Transport
from framework.records import Completion

__all__ = ["LocalServerTransport"]


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
        self._starting = asyncio.Lock()

    async def send(self, request: CompiledRequest) -> Completion:
        if self._client is None:
            async with self._starting:
                if self._client is None:
                    await asyncio.to_thread(self.server.start)
                    self._client = self._client_for(self.server.urls)
        return await self._client.send(request)

    def died(self) -> str | None:
        return self.server.died()

    async def release(self) -> None:
        if self._client is not None:
            await self._client.release()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.server.stop()
