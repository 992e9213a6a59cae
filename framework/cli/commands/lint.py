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

With --agreement EXPORT.json (a Label Studio export with several annotations per
task), the labels annotators agree on little (Krippendorff's alpha under
--min-alpha, 0.667 by default) are warnings too, each with its description.

Each finding prints as `LEVEL  KEY  message`, then why it matters.

exit codes: 0 no findings, 1 warnings only, 2 errors (or a config that does
not compose, printed as one line).

examples:
  labelwise lint taxonomy=support_tickets
  labelwise lint hydra.searchpath=[file://examples/bad_taxonomy] taxonomy=kitchen_sink
  labelwise lint hydra.searchpath=[pkg://acme_taxonomies] taxonomy=acme_feedback
  labelwise lint taxonomy=news validation.hierarchy=leaves_only
  labelwise lint taxonomy=news --agreement export.json

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
    argv, export, minimum = _agreement_options(argv)
    cfg = compose(argv)
    raw = OmegaConf.to_container(cfg.taxonomy, resolve=True)
    hierarchy = OmegaConf.select(cfg, "validation.hierarchy", default="add_parents")
    if not isinstance(raw, dict):
        raise ConfigError(f"taxonomy: got {raw!r}; choose a taxonomy with taxonomy=NAME")
    if hierarchy not in _HIERARCHIES:
        raise ConfigError(f"validation.hierarchy: {hierarchy!r}; choose one of {_HIERARCHIES}")
    layers = Origins.of(cfg).layers("taxonomy")
    findings = lint_taxonomy({str(k): v for k, v in raw.items()}, hierarchy=hierarchy)
    if export is not None:
        findings += _agreement_findings(export, raw, minimum)
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


def _agreement_options(argv: list[str]) -> tuple[list[str], str | None, float]:
    """argv without --agreement EXPORT and --min-alpha X (not Hydra overrides), and them."""
    rest, export, minimum = [], None, 0.667
    args = iter(argv)
    for arg in args:
        name, _, value = arg.partition("=")
        if name in ("--agreement", "--min-alpha"):
            value = value or next(args, "")
            if not value:
                raise ConfigError(f"{name}: give a value ({name} FILE or {name}=VALUE)")
            if name == "--agreement":
                export = value
            else:
                try:
                    minimum = float(value)
                except ValueError:
                    raise ConfigError(f"--min-alpha: {value!r} is not a number") from None
        else:
            rest.append(arg)
    return rest, export, minimum


def _agreement_findings(export: str, raw: dict[Any, Any], minimum: float) -> list[Finding]:
    """A warning for each label the export's annotators agree on little."""
    from pathlib import Path

    from framework.evaluation.review.agreement import agreement, annotations_of, raters_of
    from framework.evaluation.review.agreement_report import (
        descriptions_of,
        low_labels,
        read_export,
    )
    from framework.labels.lint import Finding

    descriptions = descriptions_of(raw)
    labels = list(descriptions) or sorted(str(k) for k in raw.get("labels") or ())
    read = annotations_of(read_export(Path(export)), labels)
    found = [f for f in agreement(raters_of(read), labels) if f.comparison == "annotators"]
    return [
        Finding(
            "warning",
            f"labels.{item.label}",
            f"annotators agree little on it in {export}: Krippendorff's alpha {item.alpha:.2f} "
            f"[{item.low:.2f}, {item.high:.2f}] over {item.units} tasks; its description: "
            f"{descriptions.get(item.label) or '(none)'!r}",
            "people who disagree on a label are reading its description differently: "
            "sharpen it, add examples, or merge it with the label it is confused with",
        )
        for item in low_labels(found, minimum)
    ]


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
