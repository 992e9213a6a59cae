"""Where a provider's API key comes from: the config (discouraged) or the environment."""

from __future__ import annotations

import os

from framework.config.schema import ProviderConfig
from framework.errors import ConfigError
from framework.providers.profiles import PROFILES
from framework.secrets import register_secret

__all__ = ["key_origin", "resolve_api_key"]


def resolve_api_key(provider: ProviderConfig) -> str | None:
    """The key to send, None when the provider needs none; ConfigError when one is missing."""
    if provider.api_base:
        register_secret(_url_password(provider.api_base))
    if provider.api_key is not None:
        register_secret(provider.api_key.get_secret_value())
        return provider.api_key.get_secret_value()
    if provider.api_key_env:
        value = os.environ.get(provider.api_key_env, "").strip()
        if value:
            register_secret(value)  # whatever the variable is called
            return value
    if PROFILES[provider.kind].needs_key:
        env = provider.api_key_env or "an environment variable"
        raise ConfigError(
            f"no API key for provider {provider.kind}: set {env} "
            "(or point provider.api_key_env at the variable you use)"
        )
    return None


def key_origin(provider: ProviderConfig) -> str:
    """' (the key comes from $X)', for a message about refused credentials; or ''."""
    return f" (the key comes from ${provider.api_key_env})" if provider.api_key_env else ""


def _url_password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None
