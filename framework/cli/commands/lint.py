"""usage: labelwise lint [taxonomy=NAME] [hydra.searchpath=[FOLDER,...]] [key=value ...]

Check a taxonomy against the practices that make labels work. The config is
composed as `labelwise classify` composes it (same overrides, same search
path), and every problem of the chosen taxonomy is reported at once:

  error    what stops a run: duplicate or colliding ids, ids with characters
           that do not show (a newline, a zero-width space), ids that look like
           another's (a Cyrillic letter for a Latin one), unknown or cyclic
           parents, replacements that are not current labels, a bad
           none_label or exclusive group, a misspelt or missing field
  warning  a practice the taxonomy breaks: more than 30 labels, no way out for
           inputs that match nothing, parents offered beside their children,
           ids that mix scripts, labels or descriptions that read alike
           (past 300 labels, each is compared with its nearest neighbours
           only), names or descriptions over several lines, labels without a
           description or without examples, retired labels without a
           replacement, a lineage that does not name the taxonomy

Each finding prints as `LEVEL  KEY  message`, then why it matters.

exit codes: 0 no findings, 1 warnings only, 2 errors (or a config that does
not compose, printed as one line).

examples:
  labelwise lint taxonomy=support_tickets
  labelwise lint hydra.searchpath=[file://examples/bad_taxonomy] taxonomy=kitchen_sink
  labelwise lint hydra.searchpath=[pkg://acme_taxonomies] taxonomy=acme_feedback
  labelwise lint taxonomy=news validation.hierarchy=leaves_only

A relative file:// folder is read from the current directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from framework.errors import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from framework.config.origins import Layer
    from framework.labels.lint import Finding

__all__ = ["run"]

_HIERARCHIES = ("add_parents", "leaves_only", "as_is")
_INDENT = " " * 9  # under the key, past "warning  "
_WIDTH = 100


def run(argv: list[str]) -> int:
    from omegaconf import OmegaConf

    from framework.config.load import compose
    from framework.config.origins import Origins
    from framework.labels.lint import lint_taxonomy

    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__, end="")
        return 0
    cfg = compose(argv)
    raw = OmegaConf.to_container(cfg.taxonomy, resolve=True)
    hierarchy = OmegaConf.select(cfg, "validation.hierarchy", default="add_parents")
    if not isinstance(raw, dict):
        raise ConfigError(f"taxonomy: got {raw!r}; choose a taxonomy with taxonomy=NAME")
    if hierarchy not in _HIERARCHIES:
        raise ConfigError(f"validation.hierarchy: {hierarchy!r}; choose one of {_HIERARCHIES}")
    layers = Origins.of(cfg).layers("taxonomy")
    findings = lint_taxonomy({str(k): v for k, v in raw.items()}, hierarchy=hierarchy)
    print(_heading(cfg, raw, [name for name, _ in layers]))
    explained: set[str] = set()
    for finding in findings:
        print(_format(finding, layers, explain=finding.reason not in explained))
        explained.add(finding.reason)
    errors = sum(1 for f in findings if f.level == "error")
    warnings = len(findings) - errors
    what = f"{raw.get('name')} {raw.get('version')}"
    if findings:
        print(f"\n{_count(errors, 'error')}, {_count(warnings, 'warning')} in {what}")
    else:
        print(f"no problems: {what} follows every practice lint checks")
    return 2 if errors else 1 if warnings else 0


def _heading(cfg: DictConfig, raw: dict[Any, Any], files: list[str]) -> str:
    from omegaconf import OmegaConf

    option = OmegaConf.select(cfg, "hydra.runtime.choices.taxonomy", default="?")
    lines = [f"taxonomy {raw.get('name')} {raw.get('version')} (taxonomy={option})"]
    if len(files) > 1:
        lines.append(f"  built from {', '.join(files[:-1])}")
    if files:
        lines.append(f"  in {files[-1]}")
    lineage = raw.get("lineage") or {}
    if lineage:
        lines.append("  lineage " + ", ".join(f"{k} {v}" for k, v in lineage.items()))
    return "\n".join(lines) + "\n"


def _format(finding: Finding, layers: list[Layer], *, explain: bool) -> str:
    """LEVEL  KEY  message, the file that set the key, and why (the first time only)."""
    import textwrap

    from framework.config.origins import Origins

    text = f"{finding.level:<8} {finding.key}  {finding.message}"
    origin = Origins.origin(f"taxonomy.{finding.key}", layers) if len(layers) > 1 else None
    if origin:
        text += f"\n{_INDENT}in {origin}"
    why = textwrap.fill(
        f"why: {finding.reason}",
        _WIDTH,
        initial_indent=_INDENT,
        subsequent_indent=_INDENT + "     ",
    )
    return f"{text}\n{why}" if explain else text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
