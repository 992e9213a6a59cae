"""What a run needs made before its classifier is built: the trained model (fit from
trained.pool) and the examples index (from examples.pool), each once, kept in the
cache folder by its pool's hash.

    prepare_run(config)
    with Classifier(config) as classifier: ...
"""

from __future__ import annotations

from framework.config.schema import RunConfig
from framework.runner.examples import ensure_example_index
from framework.runner.trained import ensure_trained_model

__all__ = ["prepare_run"]


def prepare_run(config: RunConfig) -> None:
    """Fit or build, unless already there, every artifact the config's run loads."""
    ensure_trained_model(config)
    ensure_example_index(config)
