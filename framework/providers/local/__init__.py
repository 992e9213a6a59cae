"""The embedded local model behind provider=local.

    model_file = resolve_model_file(config.model.gguf, name=config.model.name)
    with LocalServer(model_file, config.provider.local, alias=config.model.name) as server:
        server.urls   # OpenAI-compatible api_base URLs on 127.0.0.1, one per process

models: find and verify the GGUF file (package, parts assembled into the cache, or a path).
server: run llama-cpp-python's server processes. process: children that never outlive us.
"""

from framework.providers.local.models import ModelFile, resolve_model_file
from framework.providers.local.server import LocalServer

__all__ = ["LocalServer", "ModelFile", "resolve_model_file"]
