"""Every `labelwise` command shown in README.md, docs/*.md and benchmarks/README.md keeps
working in a user's clone, and the pages' links lead somewhere.

The commands are read from the pages' ```bash blocks (a `\\` continuation joined to its
line, a trailing `# comment` dropped, `A=b` environment assignments and `pip ... &&`
before them set aside). Then, by command:

- classify, plan, tune: the config is composed and validated in process, as the command
  would (framework.config.load; `tune.*` by TuneSettings), so an unknown key, group option
  or bad value fails here; a sweep (`-m`, `a,b`) is validated job by job. Input files are
  placeholders (new.jsonl): the config is checked, the file is not read.
- every other command: it exists, and each `--flag` it is given is one its --help lists
  (and a value among the choices the help shows, where it shows them).
- lint commands run (they need nothing but the clone), as do, against the stub server
  the docs start, the classify commands pointed at it, and the Python blocks that bring
  their own stub (those are slow: subprocesses).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.support import REPO, read_jsonl

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "benchmarks/README.md"]
CONFIGURED = ("classify", "plan", "tune")  # composed and validated in process
STUB_PORT = "8011"  # the port the docs' `labelwise stub` commands listen on


@dataclass(frozen=True)
class Shown:
    """One command as a page shows it."""

    page: str
    line: int
    argv: tuple[str, ...]  # after `labelwise`

    @property
    def name(self) -> str:
        return self.argv[0]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: labelwise {shlex.join(self.argv)}"


def bash_blocks(page: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each ```bash block of a page."""
    text = page.read_text(encoding="utf-8")
    for match in re.finditer(r"^```bash\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        yield text.count("\n", 0, match.start()) + 2, match.group(1)


def shown_commands() -> list[Shown]:
    found = []
    for page in PAGES:
        for first, block in bash_blocks(page):
            lines = block.split("\n")
            number = 0
            while number < len(lines):
                start, text = number, lines[number]
                while text.rstrip().endswith("\\") and number + 1 < len(lines):
                    number += 1
                    text = text.rstrip()[:-1] + " " + lines[number].strip()
                number += 1
                for part in text.split("&&"):
                    words = shlex.split(part, comments=True)
                    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                        words = words[1:]  # RAY_ADDRESS=... labelwise ...
                    if words[:1] == ["labelwise"] and len(words) > 1:
                        name = str(page.relative_to(REPO))
                        found.append(Shown(name, first + start, tuple(words[1:])))
    return found


COMMANDS = shown_commands()


def of(*names: str) -> list[Shown]:
    return [shown for shown in COMMANDS if shown.name in names]


def test_the_pages_show_commands_of_every_kind() -> None:
    """The extraction itself works: a guard against a change of fence or format that
    would leave every test below with nothing to check."""
    assert {shown.name for shown in COMMANDS} >= {
        "classify",
        "plan",
        "tune",
        "lint",
        "calibrate",
        "evaluate",
        "compare",
        "reproduce",
        "review",
        "batch",
        "stub",
    }
    assert len(COMMANDS) >= 50, len(COMMANDS)


@pytest.mark.parametrize("shown", COMMANDS, ids=str)
def test_the_command_exists(shown: Shown) -> None:
    from framework.cli.main import COMMANDS as KNOWN

    assert shown.name in KNOWN, f"{shown}: labelwise has no command {shown.name!r}"


# classify, plan, tune: the config is composed and validated ---------------------------------


@pytest.mark.parametrize("shown", of(*CONFIGURED), ids=str)
def test_the_config_of_the_command_is_valid(shown: Shown, monkeypatch: pytest.MonkeyPatch) -> None:
    from framework.config.load import compose, load_run_config
    from framework.config.tune_settings import TuneSettings
    from framework.errors import ConfigError

    monkeypatch.chdir(REPO)  # file:// search paths are read from the current folder
    monkeypatch.syspath_prepend(str(REPO / "examples/taxonomy_package"))  # as pip installs it
    known = hydra_flags() if shown.name == "classify" else {}
    flags, overrides, argv = [], [], list(shown.argv[1:])
    while argv:
        arg = argv.pop(0)
        if not arg.startswith("-"):
            overrides.append(arg)
            continue
        assert arg in known, f"{shown}: {arg} is not an option of labelwise {shown.name}"
        flags.append(arg)
        if known[arg]:  # --cfg job, -p PACKAGE: its value is no override
            argv.pop(0)
    overrides = made_earlier(shown, overrides)
    ours = [arg for arg in overrides if arg.startswith("tune.")] if shown.name == "tune" else []
    try:
        if ours:
            TuneSettings.from_overrides(ours)
        multirun = bool({"-m", "--multirun"} & set(flags))
        for job in sweep_jobs([arg for arg in overrides if arg not in ours], multirun):
            load_run_config(compose(job))
    except ConfigError as error:
        pytest.fail(f"{shown}\n  labelwise: error: {error}")


@cache
def hydra_flags() -> dict[str, bool]:
    """The flags Hydra's own parser takes (`-m`, `--cfg`, ...; classify is a Hydra app),
    each with whether a value follows it."""
    from hydra._internal.utils import get_args_parser

    actions = get_args_parser()._option_string_actions
    return {flag: action.nargs not in (0, "?") for flag, action in actions.items()}


def sweep_jobs(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The jobs of a sweep (`-m key=a,b`), or the one job of a plain command."""
    if not multirun:
        return [overrides]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    choices = []
    for override, text in zip(
        OverridesParser.create().parse_overrides(overrides), overrides, strict=True
    ):
        if override.is_sweep_override():
            key = text.split("=", 1)[0]
            choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        else:
            choices.append([text])
    return [list(job) for job in itertools.product(*choices)]


def made_earlier(shown: Shown, overrides: list[str]) -> list[str]:
    """A command that uses what an earlier command on the same page writes (the
    experiment `labelwise tune` wrote into tune.out): checked to be that, then left out."""
    kept = list(overrides)
    for arg in overrides:
        path = re.fullmatch(r"hydra\.searchpath=\[file://([^\],]+)\]", arg)
        if not path or (REPO / path.group(1)).exists():
            continue
        experiment = next(a for a in overrides if a.startswith("+experiment="))
        tunes = [
            earlier
            for earlier in of("tune")
            if earlier.page == shown.page
            and earlier.line < shown.line
            and f"tune.out={path.group(1)}" in earlier.argv
        ]
        assert tunes, f"{shown}: nothing shown before it writes {path.group(1)}"
        named = [a.split("=", 1)[1] for a in tunes[-1].argv if a.startswith("tune.name=")]
        assert experiment == f"+experiment={(named or ['tuned'])[-1]}", shown
        kept = [a for a in kept if a not in (arg, experiment)]
    return kept


def test_an_unknown_key_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above is a real one: a misspelt key on a page would fail it."""
    broken = Shown("docs/x.md", 1, ("classify", "input=new.jsonl", "run.concurency=4"))
    with pytest.raises(pytest.fail.Exception, match=r"run\.concurency: not a known key"):
        test_the_config_of_the_command_is_valid(broken, monkeypatch)


# every other command: its flags are ones its parser knows -----------------------------------


@cache
def help_text(*argv: str) -> str:
    """What `labelwise ARGV --help` prints, run in process."""
    import importlib

    from framework.cli.main import COMMANDS as KNOWN

    module = importlib.import_module(f"framework.cli.commands.{KNOWN[argv[0]][0]}")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.suppress(SystemExit):
        module.run([*argv[1:], "--help"])
    return printed.getvalue()


@pytest.mark.parametrize("shown", [s for s in COMMANDS if s.name not in CONFIGURED], ids=str)
def test_the_flags_of_the_command_are_known(shown: Shown) -> None:
    usage = help_text(shown.name)
    # review {export,import}, batch {status,cancel}: the usage line names the actions
    actions = re.search(r"\{([\w,-]+)\}", usage.split("\n\n")[0])
    argv = list(shown.argv[1:])
    if actions and argv and not argv[0].startswith("-") and "=" not in argv[0]:
        assert argv[0] in actions.group(1).split(","), f"{shown}: no action {argv[0]!r}"
        usage = help_text(shown.name, argv[0])
    for flag, value in zip(argv, [*argv[1:], ""], strict=True):
        if not flag.startswith("--"):
            continue
        assert re.search(rf"(?<![\w-]){re.escape(flag)}\b", usage), f"{shown}: {flag} unknown"
        choices = re.search(rf"{re.escape(flag)} \{{([^}}]*)\}}", usage)
        if choices and not value.startswith("-"):
            assert value in choices.group(1).split(","), f"{shown}: {flag} {value}?"


def test_an_unknown_flag_fails_the_check() -> None:
    broken = Shown("docs/x.md", 1, ("calibrate", "outputs/run", "--output", "t.json"))
    with pytest.raises(AssertionError, match="--output unknown"):
        test_the_flags_of_the_command_are_known(broken)


# the commands that run offline from a clone ----------------------------------------------


@pytest.mark.parametrize("shown", of("lint"), ids=str)
def test_the_lint_command_runs(
    shown: Shown, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lint reads a taxonomy and nothing else: it runs. The pages show taxonomies that
    compose (warnings at most: exit 0 or 1), each one's report headed by its name."""
    from framework.cli.commands import lint

    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO / "examples/taxonomy_package"))
    code = lint.run(list(shown.argv[1:]))
    printed = capsys.readouterr().out
    taxonomy = next(a.split("=", 1)[1] for a in shown.argv if a.startswith("taxonomy="))
    assert code in (0, 1), f"{shown}: exit {code}\n{printed}"
    assert printed.startswith("taxonomy ") and f"(taxonomy={taxonomy})" in printed, printed


def against_the_stub() -> list[Shown]:
    """The classify commands pointed at the docs' stub server, on a file of the clone."""
    return [
        shown
        for shown in of("classify")
        if f"provider.api_base=http://127.0.0.1:{STUB_PORT}/v1" in shown.argv
        and any(a.startswith("input=") and (REPO / a[6:]).is_file() for a in shown.argv)
    ]


def test_the_docs_point_a_run_at_their_stub() -> None:
    assert against_the_stub(), "docs/testing.md shows a classify against `labelwise stub`"
    assert any(f"--port {STUB_PORT}" in shlex.join(s.argv) for s in of("stub"))


@pytest.mark.slow
@pytest.mark.parametrize("shown", against_the_stub(), ids=str)
def test_the_classify_command_runs_against_the_docs_stub(shown: Shown, tmp_path: Path) -> None:
    """`labelwise stub` as the docs start it (on a free port instead of theirs), then the
    docs' classify command against it: every row of the file labeled."""
    first = next(s for s in of("stub") if f"--port {STUB_PORT}" in shlex.join(s.argv))
    stub_argv = [a if a != STUB_PORT else "0" for a in first.argv]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    server = subprocess.Popen(
        [sys.executable, "-m", "framework", *stub_argv], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:\d+/v1", server.stdout.readline())
        assert url, "labelwise stub prints its address first"
        argv = [a.replace(f"http://127.0.0.1:{STUB_PORT}/v1", url.group(0)) for a in shown.argv]
        done = subprocess.run(
            [sys.executable, "-m", "framework", *argv, f"hydra.run.dir={tmp_path}"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, f"{shown}\n{done.stderr}"
    source = next(a[6:] for a in shown.argv if a.startswith("input="))
    rows = read_jsonl(tmp_path / "results.jsonl")
    assert len(rows) == len(read_jsonl(REPO / source))
    assert all(row["status"] == "ok" for row in rows), rows[0]


# the Python blocks and the links ----------------------------------------------------------


def python_blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
            line = text.count("\n", 0, match.start()) + 2
            found.append((f"{page.relative_to(REPO)}:{line}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[w for w, _ in python_blocks()])
def test_the_python_block_imports_what_exists(where: str, code: str) -> None:
    """Each name a Python block imports from labelwise is there (a module that moved
    leaves a block that no longer runs)."""
    import ast
    import importlib

    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("framework"):
            module = importlib.import_module(str(node.module))
            for alias in node.names:
                assert hasattr(module, alias.name), f"{where}: {node.module}.{alias.name}?"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("where", "code"),
    [(w, c) for w, c in python_blocks() if "StubServer(" in c],
    ids=[w for w, c in python_blocks() if "StubServer(" in c],
)
def test_the_python_block_with_its_own_stub_runs(where: str, code: str, tmp_path: Path) -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{where}\n{done.stderr}"


def links() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if not re.match(r"^[a-z]+:", target):  # http(s): and mailto: are not checked
                found.append((str(page.relative_to(REPO)), target))
    return found


@pytest.mark.parametrize(("page", "target"), links(), ids=[f"{p}->{t}" for p, t in links()])
def test_the_link_leads_somewhere(page: str, target: str) -> None:
    path, _, anchor = target.partition("#")
    file = (REPO / page).parent / path if path else REPO / page
    assert file.exists(), f"{page}: {target}: no {file.relative_to(REPO)}"
    if anchor and file.suffix == ".md":
        assert anchor in anchors(file), f"{page}: {target}: no heading #{anchor}"


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slug = next(s for n in range(99) if (s := slug if n == 0 else f"{slug}-{n}") not in found)
        found.add(slug)
    return found


def paths_named() -> list[tuple[str, str]]:
    """The repository paths the pages name (framework/engine/engine.py, tests/local/, ...)."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for path in re.findall(
            r"(?<![\w./-])((?:framework|tests|conf|prompts|examples|benchmarks|docs)/[\w./*-]*)",
            text,
        ):
            if "/." not in path:  # .venv-peers and the like: made by a command shown
                found.append((str(page.relative_to(REPO)), path.rstrip(".")))
    return sorted(set(found))


@pytest.mark.parametrize(
    ("page", "path"), paths_named(), ids=[f"{p}:{n}" for p, n in paths_named()]
)
def test_the_path_the_page_names_is_there(page: str, path: str) -> None:
    """A file that moved leaves no page pointing at its old place. Placeholders in capitals
    (conf/GROUP/OPTION.yaml) and globs stand for any name."""
    pattern = re.sub(r"[A-Z][A-Z_]+", "*", path)
    assert list(REPO.glob(pattern.rstrip("/"))), (
        f"{page} names {path}, which is not in the repository"
    )


def test_no_file_cites_a_design_document_the_repository_does_not_hold() -> None:
    assert not (REPO / "DESIGN.md").exists()
    citing = [
        str(path.relative_to(REPO))
        for folder in ("framework", "conf", "examples", "docs", "benchmarks", "prompts")
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".py", ".md", ".yaml", ".jinja", ".toml")
        and "DESIGN.md" in path.read_text(encoding="utf-8", errors="replace")
    ]
    citing += [
        name for name in ("README.md", "pyproject.toml") if "DESIGN.md" in (REPO / name).read_text()
    ]
    assert not citing, f"these cite DESIGN.md, which is not in the repository: {citing}"
