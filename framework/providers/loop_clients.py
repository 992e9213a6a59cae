"""The end of an event loop's work: let go of the HTTP clients pooled for that loop.

    value = run_loop(work())        # asyncio.run(work()), the loop's clients closed at its end
    await release_loop_clients()    # the same, as the last step of a loop someone else runs

Our own transports keep one session per loop and release it themselves; litellm pools
its clients by loop, and they must be closed while their loop still runs
(litellm_api.release_loop_clients says why). Nothing to do, and litellm stays
unimported, when no call went through litellm in this process.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["release_loop_clients", "run_loop"]

T = TypeVar("T")


async def release_loop_clients() -> None:
    if "framework.providers.litellm_api" not in sys.modules:
        return
    from framework.providers import litellm_api

    await litellm_api.release_loop_clients()


def run_loop(work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(work), with what litellm pooled for the loop closed before it ends."""
    return asyncio.run(_then_release(work))


async def _then_release(work: Coroutine[Any, Any, T]) -> T:
    try:
        return await work
    finally:
        await release_loop_clients()
