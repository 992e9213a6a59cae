"""labelwise: declarative multi-label text classification with LLMs.

from framework import Classifier
with Classifier.from_config(overrides=["taxonomy=news"]) as clf:
    print(clf.classify("NASA's probe reaches Europa").labels)
"""

from framework.config.schema import RunConfig
from framework.engine.classifier import Classifier
from framework.errors import ConfigError, InputError, LabelwiseError, OutputError, ProviderError
from framework.records import Item, Prediction, Usage

__all__ = [
    "Classifier",
    "ConfigError",
    "InputError",
    "Item",
    "LabelwiseError",
    "OutputError",
    "Prediction",
    "ProviderError",
    "RunConfig",
    "Usage",
]
