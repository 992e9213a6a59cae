"""Running a command as a Hydra app, so Hydra's flags keep working (-m, --cfg, --help)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable

from omegaconf import DictConfig

from framework.secrets import install_log_scrubbing, register_secret, scrub, scrub_stderr

__all__ = ["run_hydra_app"]


def run_hydra_app(task: Callable[[DictConfig], None], argv: list[str], name: str) -> int:
    """Run `task(cfg)` as a Hydra app whose command line is `argv`; return the exit code."""
    import hydra

    from framework.cli.main import report_errors
    from framework.config.load import register_schema_defaults
    from framework.config.yaml_guard import refuse_alias_bombs
    from framework.resources import conf_dir

    register_schema_defaults()
    refuse_alias_bombs(argv, config_dir=conf_dir())  # before Hydra expands a YAML alias bomb
    # Composition errors reach report_errors (in the caller), which words them for us.
    os.environ["HYDRA_FULL_ERROR"] = "1"

    def job(cfg: DictConfig) -> None:
        def run() -> int:
            install_log_scrubbing()  # Hydra has just set up the log handlers
            task(cfg)
            return 0

        # Hydra reports a job's exceptions itself; an exit code passes through untouched.
        code = report_errors(run)
        if code:
            raise SystemExit(code)

    app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(job)
    register_override_secrets(argv)
    # Hydra prints "Error executing job with overrides: [...]" (the command line, keys and
    # all) to stderr when a job raises: every stderr line is scrubbed (framework.secrets).
    scrub_stderr()
    printing = "--cfg" in argv or "-c" in argv  # Hydra prints the config and runs no job
    saved = sys.argv
    sys.argv = [f"labelwise {name}", *argv]
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured) if printing else contextlib.nullcontext():
            app()
    except SystemExit as exit:
        return int(exit.code or 0)
    finally:
        sys.argv = saved
        if printing:
            register_config_secrets(argv)
            # quoted, so the printed YAML still parses (a bare *** would be an alias)
            sys.stdout.write(scrub(captured.getvalue()).replace(": ***\n", ": '***'\n"))
    return 0


def register_override_secrets(argv: list[str]) -> None:
    """The values of secret keys given on the command line (provider.api_key=sk-...)."""
    from framework.secrets import is_secret_override

    for arg in argv:
        if is_secret_override(arg):
            register_secret(arg.partition("=")[2].strip("'\""))


def register_config_secrets(argv: list[str]) -> None:
    """The resolved values of the secret keys of the composed config (`--cfg ... --resolve`
    prints them): compose it as Hydra did and walk it."""
    from omegaconf import OmegaConf

    from framework.config.load import compose
    from framework.errors import ConfigError
    from framework.secrets import SECRET_KEYS

    overrides = [arg for arg in argv if "=" in arg and not arg.startswith("-")]
    try:
        cfg = compose(overrides)
    except ConfigError:
        return

    def walk(node: object, path: str) -> None:
        for key, value in node.items() if isinstance(node, dict) else ():
            if str(key).lower() in SECRET_KEYS and value is not None:
                resolved = OmegaConf.select(cfg, f"{path}{key}", default=None)
                register_secret(str(resolved) if resolved is not None else None)
            walk(value, f"{path}{key}.")

    try:
        walk(OmegaConf.to_container(cfg, resolve=False), "")
    except Exception:  # an unresolvable reference holds no value to hide
        return
