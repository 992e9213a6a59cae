"""One llama.cpp server process on xllamacpp: run by LocalServer, never imported by labelwise.

    python -P serve_xllamacpp.py --model M.gguf --alias NAME --n-ctx 2048 --slots 1 \\
        --threads 1 --ready FILE

Loads the model, binds 127.0.0.1 on a port the kernel picks (so no other program can take
it between a probe and the bind), writes {"url": ..., "pid": ...} to FILE once it answers,
and serves until it is killed. It imports nothing of labelwise (a start costs no
`import framework`); its log (llama.cpp's, on stderr) goes where LocalServer sends it.
A server that cannot start exits 1 with one line saying why after llama.cpp's own lines.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--model", required=True)
    cli.add_argument("--alias", required=True)
    cli.add_argument("--n-ctx", type=int, required=True, help="tokens in all, shared by slots")
    cli.add_argument("--slots", type=int, default=1)
    cli.add_argument("--threads", type=int, default=1)
    cli.add_argument("--ready", type=Path, required=True)
    args = cli.parse_args(argv)

    import xllamacpp  # after the arguments: a mistake in them costs no 34 MB library load

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_ctx = args.n_ctx
    params.n_parallel = args.slots
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cache_prompt = True  # the shared prompt before each text is evaluated once
    try:
        server = xllamacpp.Server(params)  # returns once the model is loaded and listening
    except RuntimeError as error:
        print(f"labelwise: the server did not start: {error}", file=sys.stderr, flush=True)
        return 1
    _write_ready(args.ready, {"url": server.listening_address, "pid": os.getpid()})
    while True:  # serve until SIGTERM or SIGKILL (their default actions end the process)
        signal.pause()


def _write_ready(path: Path, content: dict[str, object]) -> None:
    """Atomically: the reader sees the whole file or none."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(content), encoding="utf-8")
    os.replace(partial, path)


if __name__ == "__main__":
    sys.exit(main())
