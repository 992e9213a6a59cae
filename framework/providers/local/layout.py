"""How many server processes, threads and slots serve the local model, chosen from the cores.

    layout = choose_layout(settings, runtime="xllamacpp")   # Layout(processes, slots, threads)

Measured on 2 cores (Qwen2.5-Coder-1.5B Q4, GoEmotions rows, xllamacpp, compact answers,
4 in flight, medians of alternating rounds): with the shared prompt already evaluated, 2
processes of 1 thread answered 0.91 rows/s, 1 process of 2 threads 0.83, the same with 2
slots 0.70; on a machine busy with other jobs (load 3-5) 0.49, 0.18 and 0.10. A process of
several threads waits at every layer for the slowest of them, and on a busy machine one
of them is often off its core; a process of one thread never waits. One process does
evaluate the shared prompt once where two evaluate it twice, so a short run on a quiet
machine is faster in one (30 rows, whole process: 0.69 against 0.64 rows/s;
benchmarks/local_runtime.py --variants new,1x2,1x2s2); set provider.local.parallel=1 for
that. Each process also holds its own repacked weights (about 600 MB for Qwen 1.5B).

So: one process per core, one thread each, up to 4 processes; beyond 4 cores the threads
are shared out among 4 processes, as each reads the weights on its own (more spend memory
bandwidth rather than cores; not measured here). Slots (requests one process decodes
together) stay at 1; provider.local.slots sets more on a machine where batching pays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from framework.config.schema import LocalServerSettings
from framework.errors import ConfigError

__all__ = ["MAX_AUTO_PROCESSES", "Layout", "choose_layout", "usable_cores"]

MAX_AUTO_PROCESSES = 4


@dataclass(frozen=True)
class Layout:
    processes: int
    slots: int  # requests each process decodes together
    threads: int  # per process
    n_ctx: int  # tokens of context per process: provider.local.n_ctx for each slot
    reason: str

    def describe(self) -> dict[str, int | str]:
        return {
            "processes": self.processes,
            "slots": self.slots,
            "threads": self.threads,
            "reason": self.reason,
        }


def choose_layout(settings: LocalServerSettings, *, runtime: str) -> Layout:
    """provider.local's parallel, slots and n_threads, each chosen from the cores when unset."""
    cores = settings.n_threads or usable_cores()
    processes = settings.parallel or min(cores, MAX_AUTO_PROCESSES)
    slots = settings.slots or 1
    if slots > 1 and runtime == "llama_cpp_python":
        raise ConfigError(
            f"provider.local.slots={slots}: llama-cpp-python's server answers one request at "
            "a time; leave provider.local.slots unset (use provider.local.parallel for more "
            "processes), or use provider.local.runtime=xllamacpp"
        )
    given = [
        key
        for key, value in (
            ("parallel", settings.parallel),
            ("slots", settings.slots),
            ("n_threads", settings.n_threads),
        )
        if value is not None
    ]
    reason = (
        f"provider.local.{', '.join(given)} set, the rest chosen from {cores} cores"
        if given
        else f"chosen from {cores} cores"
    )
    return Layout(
        processes=processes,
        slots=slots,
        threads=max(1, cores // processes),
        n_ctx=settings.n_ctx * slots,
        reason=reason,
    )


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may run on (Linux)
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
