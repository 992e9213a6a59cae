"""Layer 3, providers: everything about the model behind a run. profiles (provider facts as
data), compile (messages + plan -> the exact request and its cache key), credentials,
pricing, tokens, litellm_api (the one module that imports litellm), transports/ (the
layered send path) and local/ (the embedded llama.cpp server)."""
