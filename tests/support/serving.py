"""`labelwise serve` in a subprocess for a test, and a stub that holds chosen requests.

with served(stub, "--token", "t") as service:   # started on a free port of 127.0.0.1
    service.url, service.process
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from framework.testing import Reply, StubServer
from tests.support import REPO, cli_env, stub_overrides


@dataclass
class Service:
    url: str
    process: subprocess.Popen[str]

    def stop(self, timeout: float = 60, *, signal_it: bool = True) -> tuple[int, str]:
        """SIGTERM (unless sent already), then its exit code and stderr."""
        if signal_it and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, err


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "framework", "serve", *args]


@contextmanager
def served(
    stub: StubServer | None,
    *args: str,
    overrides: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[Service]:
    """The service on a free loopback port, against the stub (news taxonomy)."""
    pointed = stub_overrides(stub) if stub is not None else []
    command = serve_command("--port", "0", *args, *pointed, "taxonomy=news", *overrides)
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env or cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the first line says where it listens
    found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if found is None:
        process.kill()
        _, err = process.communicate(timeout=30)
        raise AssertionError(f"serve did not start: {line!r} {err}")
    service = Service(f"http://127.0.0.1:{found.group(1)}", process)
    try:
        yield service
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


class Gate:
    """A stub responder that holds requests whose text holds HOLD until `release()`:
    `arrived` is set when the first such request reaches the stub. Holding blocks the
    stub's loop, which no other request needs meanwhile; SLOW texts answer after 5 s."""

    def __init__(self, content: str = '{"labels": ["space"]}') -> None:
        self.arrived = threading.Event()
        self.opened = threading.Event()
        self.content = content

    def __call__(self, body: dict[str, Any]) -> Reply:
        text = str(body.get("messages"))
        if "HOLD" in text:
            self.arrived.set()
            self.opened.wait(60)
        if "SLOW" in text:
            return Reply(content=self.content, delay=5)
        return Reply(content=self.content)

    def release(self) -> None:
        self.opened.set()

    def arm(self) -> None:
        """Hold the next HOLD requests again."""
        self.arrived.clear()
        self.opened.clear()
