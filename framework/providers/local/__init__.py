"""The embedded local model behind provider=local.

    model_file = resolve_model_file(config.model.gguf, name=config.model.name)
    with LocalServer(model_file, config.provider.local, alias=config.model.name) as server:
        server.urls   # OpenAI-compatible api_base URLs on 127.0.0.1, one per process

models: find and verify the GGUF file (package, parts assembled into the cache, or a path).
runtimes: which llama.cpp runs it (xllamacpp's prebuilt wheel, or llama-cpp-python built
from source) and why. layout: processes, threads and slots from the cores. server: run
the server processes (serve_xllamacpp.py is one of them). answers: the compact grammar
the xllamacpp server gets. logs: where the servers' logs go and the line that says why.
process: children that never outlive us.
"""

from framework.providers.local.models import ModelFile, resolve_model_file
from framework.providers.local.server import LocalServer

__all__ = ["LocalServer", "ModelFile", "resolve_model_file"]
