"""`labelwise stub [--port N] [--latency S] [--content TEXT] [--faults SPEC] [--seed N]`:
an offline OpenAI-compatible server to try a config with no key (framework.testing)."""

from __future__ import annotations

from framework.testing.standalone import main

__all__ = ["run"]


def run(argv: list[str]) -> int:
    return main(argv, prog="labelwise stub")
