"""The command line: `labelwise COMMAND [key=value ...] [hydra flags]`.

Each command lives in framework/commands/ and is imported only when run, so
`labelwise --help` answers at once. Exit codes: 0 success (failed rows are
data), 2 a configuration or input error, printed in one or two lines without
a traceback, 1 anything else, 130 when interrupted.
"""

from __future__ import annotations

import errno
import importlib
import signal
import sys
from collections.abc import Callable, Sequence

from framework.errors import (
    AuthError,
    ConfigError,
    LabelwiseError,
    ProviderError,
    UnknownModel,
    WriteError,
    did_you_mean,
)
from framework.secrets import register_environment, scrub, scrub_stderr

__all__ = ["COMMANDS", "main", "report_errors"]

# name -> (module under framework.cli.commands, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "classify": ("classify", "label the texts of input=FILE; results go to output=FILE"),
    "plan": ("plan", "estimate the calls, tokens and cost of a classify run before making it"),
    "evaluate": (
        "evaluate",
        "score results against gold labels: metrics.json, report.md and report.html",
    ),
    "reproduce": ("reproduce", "rerun a run from its record and check the requests are identical"),
    "compare": ("compare", "leaderboard and charts of several runs or a sweep"),
    "lint": ("lint", "check a taxonomy against the practices that make labels work"),
    "calibrate": ("calibrate", "per-label thresholds that maximise F1 on a labeled dev run"),
    "tune": ("tune", "try recipes on a labeled dev file; write the best as an experiment"),
    "review": (
        "review",
        "review a run's rows in Label Studio (export, a queue by budget), its export back "
        "as gold rows, annotators' agreement",
    ),
    "audit": ("audit", "rank the rows of a gold file whose labels may be wrong (cleanlab)"),
    "learn": ("learn", "refit the trained model on a labeled pool's newest version; what changed"),
    "batch": ("batch", "the provider batch jobs of a run.mode=batch run: status, cancel"),
    "serve": ("serve", "an HTTP service labeling rows with one config: POST /v1/classify"),
    "stub": ("stub", "an offline OpenAI-compatible server to try a config with no key"),
}
# The commands that pick up where they stopped when run again (said when interrupted).
RESUMES = frozenset({"classify", "tune"})

USAGE = """\
usage: labelwise COMMAND [key=value ...] [hydra flags]

commands:
{commands}

Config groups (pick one with group=option): provider, model, taxonomy,
prompt, validation. `labelwise classify --help` lists the options;
`labelwise classify --cfg job` prints the composed config.

examples:
  labelwise classify input=examples/news/items.jsonl
  labelwise classify input=tickets.jsonl taxonomy=support_tickets \\
      provider=openai model=gpt-4o-mini validation=lenient
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        listing = "\n".join(f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items())
        print(USAGE.format(commands=listing), end="")
        return 0
    if args[0] in ("-V", "--version"):
        from importlib.metadata import version

        print(f"labelwise {version('labelwise')}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        report(
            f"unknown command {name!r}{did_you_mean(name, COMMANDS)}; "
            f"commands: {', '.join(COMMANDS)}"
        )
        return 2
    register_environment()  # credentials in the environment never reach what we print
    scrub_stderr()  # nor any line on stderr, whoever writes it (Hydra, a traceback)

    def command() -> int:
        # Inside report_errors: a SIGTERM from here on is one line, never a traceback.
        _interrupt_on_sigterm()
        module = importlib.import_module(f"framework.cli.commands.{COMMANDS[name][0]}")
        run: Callable[[list[str]], int] = module.run
        return run(rest)

    return report_errors(command, resumes=name in RESUMES)


def report_errors(run: Callable[[], int], *, resumes: bool = True) -> int:
    """Run a command; turn the errors a user can fix into one or two lines and an exit code.
    `resumes`: the command picks up where it stopped when run again (classify, tune)."""
    import yaml
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from framework.config.load import describe_hydra_error

    try:
        return run()
    except ConfigError as error:
        from framework.config.moved_keys import said_as_written

        report(said_as_written(str(error)))  # a moved key named as the user wrote it
        return 2
    except (HydraException, OmegaConfBaseException, yaml.YAMLError) as error:
        report(describe_hydra_error(error))
        return 2
    except ProviderError as error:
        report(str(error))
        return 2 if isinstance(error, AuthError | UnknownModel) else 1
    except WriteError as error:
        report(str(error))
        return 1
    except OSError as error:
        if error.errno not in _CANNOT_WRITE:
            raise
        remedy = (
            "free space on that disk"
            if error.errno in _FULL
            else "choose another place (output=, hydra.run.dir=) or make it writable"
        )
        report(f"cannot write {error.filename or 'a file'}: {error.strerror}; {remedy}")
        return 1 if error.errno in _FULL else 2
    except LabelwiseError as error:  # a worker that died, and the like: said, not a traceback
        report(str(error))
        return 1
    except KeyboardInterrupt:
        report(
            "interrupted; run the same command again to resume where it stopped"
            if resumes
            else "interrupted"
        )
        return 130


# Where a file cannot be written, whatever labelwise meant to write there.
_CANNOT_WRITE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT})
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _interrupt_on_sigterm() -> None:
    """SIGTERM (a scheduler, `kill`) stops a run like Ctrl-C: rows done stay written,
    local model servers are stopped, and the same command resumes."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)


def report(message: str) -> None:
    print(f"labelwise: error: {scrub(message)}", file=sys.stderr)
