"""The stub server run on its own, until Ctrl-C or SIGTERM: `labelwise stub`,
`python -m framework.testing` (and the old `python -m framework.stub_server`).

    labelwise stub --port 8011 --latency 0.05 --content '{"labels": ["space"]}' \\
        --faults e500=0.15,e429=0.1

Every request is answered with --content after --latency seconds, except the share of
each fault in --faults, drawn with --seed.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import threading
from collections.abc import Callable
from typing import Any

from framework.testing.reply import Reply, Responder
from framework.testing.server import StubServer

__all__ = ["FAULTS", "fault_mix", "main", "parser"]

# Faults a standalone stub can mix in (--faults e500=0.15,e429=0.1,...), each a Reply.
FAULTS: dict[str, Callable[[float], Reply]] = {
    "e500": lambda delay: Reply(status=500, error="injected server error", delay=delay),
    "e429": lambda delay: Reply(status=429, headers={"Retry-After": "1"}, delay=delay),
    "malformed": lambda delay: Reply(content='{"labels": ["sci', delay=delay),
    "unknown": lambda delay: Reply(content='{"labels": ["not-a-label"]}', delay=delay),
    "hang": lambda delay: Reply(delay=3600.0),
}


def fault_mix(spec: str, good: Reply, seed: int = 0) -> Responder:
    """A responder answering `good` except for the share of each fault in `spec`
    ("e500=0.15,e429=0.1"), drawn with a fixed seed."""
    shares = []
    for part in filter(None, spec.split(",")):
        name, _, share = part.partition("=")
        if name not in FAULTS:
            raise SystemExit(f"unknown fault {name!r}; choose from {', '.join(FAULTS)}")
        shares.append((FAULTS[name](good.delay), float(share)))
    rng = random.Random(seed)
    lock = threading.Lock()

    def respond(request: dict[str, Any]) -> Reply:
        with lock:
            draw = rng.random()
        for reply, share in shares:
            if draw < share:
                return reply
            draw -= share
        return good

    return respond


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("--port", type=int, default=8011, help="0 picks a free port (printed)")
    cli.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    cli.add_argument("--content", default='{"labels": []}', help="the assistant text")
    cli.add_argument("--faults", default="", help=f"e.g. e500=0.15,e429=0.1; {', '.join(FAULTS)}")
    cli.add_argument("--seed", type=int, default=0, help="of the fault draws")
    return cli


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Serve until interrupted; the first line printed says where."""
    args = parser(prog).parse_args(argv)
    good = Reply(content=args.content, delay=args.latency)
    stub = StubServer(
        port=args.port,
        default=good,
        responder=fault_mix(args.faults, good, args.seed) if args.faults else None,
        record=False,
    )
    stub.start()
    print(f"stub server on {stub.url}", flush=True)
    print(
        f"point a run at it: provider=openai_compatible provider.api_base={stub.url} "
        "model.name=stub",
        flush=True,
    )
    stopped = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it, as SIGTERM does
        stopped.wait()
    stub.stop()
    return 0
