"""Running a command as a Hydra app, so Hydra's flags keep working (-m, --cfg, --help)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from omegaconf import DictConfig

__all__ = ["run_hydra_app"]


def run_hydra_app(task: Callable[[DictConfig], None], argv: list[str], name: str) -> int:
    """Run `task(cfg)` as a Hydra app whose command line is `argv`; return the exit code."""
    import hydra

    from framework.cli import report_errors
    from framework.config.load import register_schema_defaults
    from framework.resources import conf_dir

    register_schema_defaults()
    # Composition errors reach report_errors (in the caller), which words them for us.
    os.environ["HYDRA_FULL_ERROR"] = "1"

    def job(cfg: DictConfig) -> None:
        def run() -> int:
            task(cfg)
            return 0

        # Hydra reports a job's exceptions itself; an exit code passes through untouched.
        code = report_errors(run)
        if code:
            raise SystemExit(code)

    app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(job)
    saved = sys.argv
    sys.argv = [f"labelwise {name}", *argv]
    try:
        app()
    except SystemExit as exit:
        return int(exit.code or 0)
    finally:
        sys.argv = saved
    return 0
