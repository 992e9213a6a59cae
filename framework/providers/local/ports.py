"""Where a server process listens, and whether it answers.

port = free_port()               # for a runtime that is given its port (llama-cpp-python)
port = reported_port(ready)      # one that picks its own (xllamacpp) writes it to a file
answers(port, alias)             # GET /v1/models lists the alias
"""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path

__all__ = ["HOST", "answers", "free_port", "reported_port"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A port free now; another program may take it before the server binds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def reported_port(ready: Path) -> int:
    """The port a runtime that picks its own wrote to its ready file, or 0 before it did."""
    try:
        url = json.loads(ready.read_text(encoding="utf-8"))["url"]
        return int(str(url).rsplit(":", 1)[1].strip("/"))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return 0


def answers(port: int, alias: str) -> bool:
    """True when our server lists `alias` at /v1/models (http.client: no proxy from the env)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", "/v1/models")
        response = connection.getresponse()
        listed = json.loads(response.read()) if response.status == 200 else {}
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        connection.close()
    models = listed.get("data") if isinstance(listed, dict) else None
    return isinstance(models, list) and any(
        isinstance(entry, dict) and entry.get("id") == alias for entry in models
    )
