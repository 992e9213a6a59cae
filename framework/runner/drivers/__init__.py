"""The ways of running a file's rows, in one table (Driver: base.py).

    driver = choose_driver(classifier)
    await driver.run(classifier, RunFiles(path, read), sink)

DRIVERS is read in order: wrapping drivers that take the run (distillation, whose phases
run through another driver) wrap the first other driver that takes it. A new way of
running rows is one module with a Driver subclass and one entry here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.runner.drivers.base import Driver, RunFiles
from framework.runner.drivers.batch import BatchDriver
from framework.runner.drivers.distill import DistillDriver
from framework.runner.drivers.online import OnlineDriver, WorkersDriver
from framework.runner.drivers.ray import RayDriver
from framework.runner.drivers.route import RouteDriver

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier

__all__ = ["DRIVERS", "Driver", "RunFiles", "choose_driver"]

DRIVERS: tuple[type[Driver], ...] = (
    DistillDriver,  # distill.sample: wraps the driver of its phases
    RouteDriver,  # quality.llm_rows: the llm tier's calibration phase, then the rest
    RayDriver,  # run.executor=ray
    BatchDriver,  # run.mode=batch
    WorkersDriver,  # run.workers > 1
    OnlineDriver,  # this process: every run no other driver takes
)


def choose_driver(classifier: Classifier) -> Driver:
    """The driver of the classifier's run: the first of DRIVERS that takes it, inside
    the wrapping drivers before it that take it too."""
    wrappers: list[Driver] = []
    for kind in DRIVERS:
        driver = kind.for_run(classifier)
        if driver is None:
            continue
        if not driver.wraps:
            for wrapper in reversed(wrappers):
                wrapper.inner, driver = driver, wrapper
            return driver
        wrappers.append(driver)
    raise AssertionError("unreachable: OnlineDriver takes every run")
