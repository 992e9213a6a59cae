"""The transport contract: a compiled request in, a Completion out.

    completion = await transport.send(request)   # or a ProviderError
    await transport.release()   # let go of what it holds in this event loop (connections)
    await transport.aclose()    # and of everything (the cache, a local server)

The engine holds one transport and does not know which. A run's transport is a
stack of small layers, each one of these (framework.providers.transports.stack):

    cache -> retry -> health -> throttle -> provider client

A provider client speaks to one API: LitellmTransport (any provider, through
litellm); LocalServerTransport starts the embedded llama.cpp server and hands its
calls to a client of it; RecordingTransport answers from a script and keeps what
it was asked (plan, reproduce --dry-run). A Completion says how it was got:
`cached`, and `attempts` (the calls made for it, retries included).
"""

from __future__ import annotations

from typing import Protocol

from framework.providers.compile import CompiledRequest
from framework.records import Completion

__all__ = ["Layer", "Transport"]


class Transport(Protocol):
    async def send(self, request: CompiledRequest) -> Completion: ...

    async def release(self) -> None: ...

    async def aclose(self) -> None: ...


class Layer:
    """A transport that adds one thing around another: `inner` does the rest."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    async def send(self, request: CompiledRequest) -> Completion:
        return await self.inner.send(request)

    async def release(self) -> None:
        await self.inner.release()

    async def aclose(self) -> None:
        await self.inner.aclose()
