"""The transport contract (base) and its layers: cache, retry, health, throttle over a
provider client (litellm, local, recording); stack builds a run's stack from its config."""
