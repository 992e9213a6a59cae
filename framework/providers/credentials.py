"""Where a provider's API key comes from: the config (discouraged) or the environment."""

from __future__ import annotations

import base64
import os

from framework.config.schema import ProviderConfig
from framework.errors import ConfigError
from framework.providers.profiles import PROFILES
from framework.secrets import register_secret

__all__ = ["key_origin", "resolve_api_key", "url_credentials"]


def resolve_api_key(provider: ProviderConfig) -> str | None:
    """The key to send, None when the provider needs none; ConfigError when one is missing."""
    if provider.api_base:
        _, basic, password = url_credentials(provider.api_base)
        token = basic.removeprefix("Basic ") if basic else None
        for secret in (_url_password(provider.api_base), password, token):
            register_secret(secret)  # as written in the URL, decoded, and as sent
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


def url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """An api_base with `user:password@` in it, sent as the OpenAI SDK (httpx) sends it:
    (the URL without them, an `Authorization: Basic ...` value, the password decoded).
    That header takes the place of the key's `Bearer` one: a proxy in front of a server
    checks the URL's credentials, and one Authorization header cannot carry both.
    (url, None, None) for a URL without credentials."""
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return url, None, None
    if not user and not password:
        return url, None, None
    plain = (unquote(user or ""), unquote(password or ""))
    token = base64.b64encode(f"{plain[0]}:{plain[1]}".encode()).decode("ascii")
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return bare, f"Basic {token}", plain[1] or None


def _url_password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None
