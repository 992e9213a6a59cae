"""`labelwise serve [--host H] [--port P] [--token T] [options] [key=value ...]`: an HTTP
service labeling rows with one config (docs/serve.md).

The config is composed from the same overrides as `labelwise classify` (input= is not
needed) and its engine, response cache, rate limits, budget and local model are those
of a classify run of it. Bound beyond the loopback interface, it needs a bearer token
(--token, or the environment's LABELWISE_SERVE_TOKEN) and refuses to start without one.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys

from framework.errors import ConfigError

__all__ = ["run"]

TOKEN_ENV = "LABELWISE_SERVE_TOKEN"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="labelwise serve",
        description="Serve POST /v1/classify, /health, /metrics and /openapi.json for one "
        "config (key=value overrides as for classify).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (8080; 0 picks a free one)")
    p.add_argument("--token", help=f"bearer token clients must send (or {TOKEN_ENV})")
    p.add_argument(
        "--max-in-flight",
        type=int,
        help="rows classified at once; more are refused with 429 (2 x run.concurrency)",
    )
    p.add_argument("--max-body", type=int, default=1 << 20, help="body cap in bytes (1 MiB)")
    p.add_argument("--max-rows", type=int, default=1000, help="rows in one request (1000)")
    p.add_argument("--deadline", type=float, default=30.0, help="seconds a request may take (30)")
    p.add_argument(
        "--drain", type=float, default=30.0, help="seconds shutdown waits for requests (30)"
    )
    p.add_argument(
        "--outage-pause",
        type=float,
        default=5.0,
        help="seconds a provider taken for down is left alone before a request tries it (5)",
    )
    p.add_argument("overrides", nargs="*", help="key=value config overrides, as for classify")
    return p


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from framework.cli.commands.hydra_app import register_override_secrets

    register_override_secrets(args.overrides)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if token is None and not _loopback(args.host):
        raise ConfigError(
            f"--host {args.host}: beyond the loopback interface the service needs a bearer "
            f"token; give one with --token or {TOKEN_ENV}, or bind --host 127.0.0.1"
        )
    for flag, value in (("--max-body", args.max_body), ("--max-rows", args.max_rows)):
        if value < 1:
            raise ConfigError(f"{flag}: {value} is not a positive number")
    if args.outage_pause < 0:
        raise ConfigError(f"--outage-pause: {args.outage_pause} is negative")
    if args.deadline <= 0:
        raise ConfigError(f"--deadline: {args.deadline} is not a positive number of seconds")
    return _serve(args, token)


def _serve(args: argparse.Namespace, token: str | None) -> int:
    from framework.config.load import compose, load_run_config
    from framework.engine.classifier import Classifier
    from framework.learning.prepare import prepare_run
    from framework.serve.app import ServeSettings, serve_forever
    from framework.serve.service import RowService

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = load_run_config(compose(args.overrides))
    prepare_run(config)  # the trained model and the examples index, on first use
    classifier = Classifier(config)
    classifier.check_answers_now()  # batch jobs and distillation cannot serve
    in_flight = args.max_in_flight or 2 * config.run.concurrency
    service = RowService(classifier, max_in_flight=in_flight, outage_pause=args.outage_pause)
    settings = ServeSettings(
        host=args.host,
        port=args.port,
        token=token,
        max_body=args.max_body,
        max_rows=args.max_rows,
        deadline_ms=round(args.deadline * 1000),
        drain=args.drain,
    )

    def ready(port: int) -> None:
        print(
            f"labelwise serve: listening on http://{args.host}:{port} (taxonomy "
            f"{config.taxonomy.name}, model {config.model.name}, at most {in_flight} rows in "
            "flight); POST /v1/classify, GET /health /metrics /openapi.json",
            flush=True,
        )

    async def main() -> None:
        try:
            await serve_forever(service, settings, ready)
        finally:
            await classifier.aclose()

    asyncio.run(main())
    print("labelwise serve: stopped; requests in flight were answered", file=sys.stderr)
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
