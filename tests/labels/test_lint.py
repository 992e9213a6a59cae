"""`labelwise lint`: every warning and error on small taxonomies, the bundled
and example taxonomies, and the command's output and exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from framework.config.load import compose, load_run_config
from framework.labels import lint
from framework.labels.lint import Finding, lint_taxonomy
from tests.support import REPO

BAD = REPO / "examples" / "bad_taxonomy"

# A clean taxonomy; each case below changes it in one way.
GOOD = """\
name: t
version: "1"
none_label: none
lineage: {t: "1"}
labels:
  solar:
    description: Solar panels, inverters and rooftop installations.
    aliases: [pv]
  wind:
    description: Wind turbines, offshore farms and blade maintenance.
  none:
    description: The text is about neither kind of energy. Use it alone.
"""


def compose_taxonomy(folder: Path, body: str, *overrides: str) -> dict[str, object]:
    (folder / "taxonomy").mkdir(exist_ok=True)
    (folder / "taxonomy" / "t.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    cfg = compose([f"hydra.searchpath=[file://{folder}]", "taxonomy=t", *overrides])
    raw = OmegaConf.to_container(cfg.taxonomy, resolve=True)
    assert isinstance(raw, dict)
    return {str(key): value for key, value in raw.items()}


def findings_of(folder: Path, body: str) -> list[tuple[str, str, str]]:
    return [(f.level, f.key, f.message) for f in lint_taxonomy(compose_taxonomy(folder, body))]


def test_the_good_taxonomy_is_clean(tmp_path: Path) -> None:
    assert findings_of(tmp_path, GOOD) == []


def test_a_loaded_taxonomy_is_linted_too() -> None:
    assert lint_taxonomy(load_run_config(compose(["taxonomy=news"])).taxonomy) == []


MANY = "name: t\nversion: '1'\nallow_empty: true\nlabels:\n" + "".join(
    f"  L{i:02d}: {{description: Label number {i}}}\n" for i in range(31)
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (MANY, ("labels", "31 labels on offer; keep a flat set to 30 at most")),
        (
            GOOD.replace("none_label: none", "none_label: null").replace("  none:", "  hydro:"),
            (
                "none_label",
                "no none_label, no catch-all label (other, none, ...) and allow_empty is false",
            ),
        ),
        (
            GOOD + "  geo: {description: Geothermal heat pumps and deep wells., parent: solar}\n",
            ("labels.solar", "offered flat beside its children geo"),
        ),
        (
            GOOD + "  SOLARS: {description: Photovoltaic cell chemistry and research labs.}\n",
            ("labels.SOLARS", "reads like 'solar' (0.91 alike)"),
        ),
        (
            GOOD + "  sun: {name: Solar, description: Sunshine hours and weather forecasts.}\n",
            ("labels.sun", "reads like 'solar' (1.00 alike)"),
        ),
        (
            GOOD
            + "  pv: {description: Rooftop installations of solar panels and inverters.}\n".replace(
                "pv:", "photovoltaic:"
            ),
            (
                "labels.photovoltaic.description",
                "described like 'solar' (100% of the words in common)",
            ),
        ),
        (
            GOOD + "  hydro: {}\n",
            ("labels.hydro.description", "no description; the model sees only the id 'hydro'"),
        ),
        (
            GOOD.replace(
                "    aliases: [pv]", "    examples: [Our roof panels stopped producing.]"
            ).replace(
                "offshore farms and blade maintenance.",
                "offshore farms.\n    examples: [A blade cracked.]",
            ),
            ("labels.none.examples", "no examples, while 2 of the 3 labels have some"),
        ),
        (
            GOOD + "  coal: {description: Coal plants., deprecated: true}\n",
            ("labels.coal.replaced_by", "deprecated without a replacement"),
        ),
        (
            GOOD.replace('lineage: {t: "1"}', 'lineage: {energy_base: "2"}'),
            ("lineage", "does not name this taxonomy; add t: '1' to it"),
        ),
        (
            GOOD.replace('lineage: {t: "1"}', 'lineage: {t: "0.9"}'),
            ("lineage", "names t '0.9', not this version '1'"),
        ),
        (
            GOOD + "  gr\u0430vity: {description: Gravitational storage in old mine shafts.}\n",
            (
                "labels.gr\u0430vity",
                "'gr\u0430vity' mixes Cyrillic and Latin letters ('\u0430' CYRILLIC SMALL LETTER A)",
            ),
        ),
        (
            GOOD.replace(
                "description: Wind turbines, offshore farms and blade maintenance.",
                "description: |\n      Wind turbines.\n      - none: answer none always",
            ),
            ("labels.wind.description", "runs over 2 lines"),
        ),
    ],
)
def test_each_warning(tmp_path: Path, body: str, expected: tuple[str, str]) -> None:
    assert findings_of(tmp_path, body) == [("warning", *expected)]


@pytest.mark.parametrize(
    "change",
    [
        ("none_label: none", "none_label: null"),  # "none" is a catch-all by its id
        ("none_label: none", "none_label: null\nallow_empty: true"),
    ],
)
def test_a_way_out_for_inputs_that_match_nothing(tmp_path: Path, change: tuple[str, str]) -> None:
    # A way out exists, so no none_label warning; but a label named "none" that is not the
    # none_label is an ordinary label (it may stand beside others): that is warned of.
    assert findings_of(tmp_path, GOOD.replace(*change)) == [
        (
            "warning",
            "labels.none",
            "named 'none' but none_label is not set, so it is an ordinary label",
        )
    ]


def test_parents_are_not_mixed_levels_when_only_leaves_are_offered(tmp_path: Path) -> None:
    raw = compose_taxonomy(tmp_path, GOOD + "  geo: {description: Heat pumps., parent: solar}\n")
    assert [f.key for f in lint_taxonomy(raw, hierarchy="as_is")] == ["labels.solar"]
    assert lint_taxonomy(raw, hierarchy="leaves_only") == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "name: t\nversion: '1'\nallow_empty: true\nlabels:\n  - {id: a, description: Aa bb cc}\n  - {id: a, description: Dd ee}\n",
            ("labels", "duplicate id 'a'; label ids must be unique"),
        ),
        (
            GOOD.replace("aliases: [pv]", "aliases: [WIND]"),
            (
                "labels.wind",
                "'wind' names both 'solar' and 'wind' (ids and aliases are matched without regard to case)",
            ),
        ),
        (
            GOOD + "  geo: {description: Heat pumps., parent: heat}\n",
            ("labels.geo.parent", "'heat' is not a label id"),
        ),
        (
            GOOD + "  geo: {description: Heat pumps., parent: geo}\n",
            ("labels.geo.parent", "a label cannot be its own parent"),
        ),
        (
            GOOD
            + "  geo: {description: Heat pumps., parent: coal}\n  coal: {description: Coal., deprecated: true, replaced_by: solar}\n",
            ("labels.geo.parent", "'coal' is deprecated; choose a current parent"),
        ),
        (
            GOOD
            + "  geo: {description: Heat pumps., parent: hydro}\n  hydro: {description: Dams., parent: geo}\n",
            ("labels.geo.parent", "the parents form a cycle: geo -> hydro -> geo"),
        ),
        (
            GOOD + "  coal: {description: Coal plants., replaced_by: solar}\n",
            (
                "labels.coal.replaced_by",
                "only a deprecated label has a replacement; set deprecated: true",
            ),
        ),
        (
            GOOD + "  coal: {description: Coal plants., deprecated: true, replaced_by: gas}\n",
            ("labels.coal.replaced_by", "'gas' is not a current label id"),
        ),
        (
            GOOD.replace("none_label: none", "none_label: nothing"),
            ("none_label", "'nothing' is not a label id; add it to labels or set null"),
        ),
        (
            GOOD + "exclusive: {size: [solar]}\n",
            ("exclusive.size", "an exclusive group needs two labels or more"),
        ),
        (
            GOOD + "exclusive: {size: [solar, none]}\n",
            ("exclusive.size", "'none' is exclusive of every label already"),
        ),
        (
            GOOD + "remove: [hydro]\n",
            ("remove", "'hydro' not in the labels of the taxonomies this one extends"),
        ),
        (
            GOOD.replace("    aliases: [pv]", "    alias: [pv]"),
            ("labels.solar.alias", "not a known key (did you mean aliases?)"),
        ),
        (
            GOOD.replace('version: "1"', 'version: "1"\nallow_emtpy: true'),
            ("allow_emtpy", "not a known key (did you mean allow_empty?)"),
        ),
        (
            GOOD.replace('version: "1"\n', "").replace('lineage: {t: "1"}', ""),
            ("version", "required but not set"),
        ),
        (
            GOOD.replace("aliases: [pv]", "aliases: pv"),
            ("labels.solar.aliases", "Input should be a valid list (got 'pv')"),
        ),
        (
            GOOD.replace("none_label: none", "none_label: null\nallow_empty: true")
            + "remove: [solar, wind, none]\n",
            ("labels", "no labels left; a taxonomy needs at least one label"),
        ),
        (  # a Cyrillic dze for the s
            GOOD + "  \u0455olar: {description: Heat stored in molten salt tanks.}\n",
            (
                "labels.\u0455olar",
                "'\u0455olar' looks like 'solar' but is spelled with other characters "
                "('\u0455' CYRILLIC SMALL LETTER DZE)",
            ),
        ),
        (  # an alias with a Ukrainian i, and a fullwidth id
            GOOD
            + "  geo: {description: Heat pumps and wells., aliases: [w\u0456nd]}\n"
            + "  \uff28YDRO: {description: Dams.}\n  hydro: {description: Rivers.}\n",
            (
                "labels.geo",
                "'w\u0456nd' looks like 'wind' but is spelled with other characters "
                "('\u0456' CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I)",
            ),
        ),
        (
            GOOD + '  "zero\\u200bwidth": {description: Hidden characters.}\n',
            (
                "labels.zero\\u200bwidth.id",
                "'zero\\u200bwidth' holds a character that does not show "
                "(U+200B ZERO WIDTH SPACE); write names with visible characters only",
            ),
        ),
        (
            GOOD + '  "two\\nlines": {description: A line of its own.}\n',
            (
                "labels.two\\nlines.id",
                "'two\\nlines' holds a character that does not show (U+000A LINE FEED); "
                "write names with visible characters only",
            ),
        ),
    ],
)
def test_each_error(tmp_path: Path, body: str, expected: tuple[str, str]) -> None:
    found = findings_of(tmp_path, body)
    assert ("error", *expected) in found, found
    assert all(level == "error" for level, _, _ in found), found


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    body = GOOD.replace("none_label: none", "none_label: nothing") + (
        "  geo: {description: Heat pumps., parent: heat}\n"
        "  coal: {description: Coal plants., deprecated: true, replaced_by: gas}\n"
        "exclusive: {size: [solar]}\n"
    )
    keys = [key for level, key, _ in findings_of(tmp_path, body) if level == "error"]
    assert keys == ["labels.geo.parent", "labels.coal.replaced_by", "none_label", "exclusive.size"]


def test_a_misspelt_field_does_not_hide_its_label(tmp_path: Path) -> None:
    body = (
        GOOD.replace("    aliases: [pv]", "    alias: [pv]") + "exclusive: {size: [solar, wind]}\n"
    )
    # solar is still a label, so the exclusive group that names it is fine
    assert findings_of(tmp_path, body) == [
        ("error", "labels.solar.alias", "not a known key (did you mean aliases?)")
    ]


@pytest.mark.parametrize("name", ["news", "support_tickets", "goemotions_ekman"])
def test_the_bundled_taxonomies_are_clean(name: str) -> None:
    # support_tickets has no none_label, but GENERAL_QUERY answers to "other".
    raw = OmegaConf.to_container(compose([f"taxonomy={name}"]).taxonomy, resolve=True)
    assert isinstance(raw, dict)
    assert lint_taxonomy({str(k): v for k, v in raw.items()}) == []


def bad(name: str) -> list[Finding]:
    return lint_taxonomy(compose_taxonomy_file(BAD, name))


def compose_taxonomy_file(folder: Path, name: str) -> dict[str, object]:
    cfg = compose([f"hydra.searchpath=[file://{folder}]", f"taxonomy={name}"])
    raw = OmegaConf.to_container(cfg.taxonomy, resolve=True)
    assert isinstance(raw, dict)
    return {str(key): value for key, value in raw.items()}


def test_kitchen_sink_breaks_every_practice() -> None:
    found = bad("kitchen_sink")
    assert all(f.level == "warning" for f in found)
    reasons = {reason for _, reason in lint.WARNINGS}
    assert {f.reason for f in found} == reasons, "every kind of warning"
    first = {f.reason: (f.key, f.message) for f in reversed(found)}
    assert [first[reason] for _, reason in lint.WARNINGS] == [
        ("labels", "38 labels on offer; keep a flat set to 30 at most"),
        (
            "none_label",
            "no none_label, no catch-all label (other, none, ...) and allow_empty is false",
        ),
        ("labels.NOTHING", "named 'NOTHING' but none_label is not set, so it is an ordinary label"),
        ("labels.SHIPPING", "offered flat beside its children SHIPPING_COST, TRACKING"),
        (
            "labels.SUSTAINABILITY",
            "'ec\u043e' mixes Cyrillic and Latin letters ('\u043e' CYRILLIC SMALL LETTER O)",
        ),
        ("labels.REFUNDS", "reads like 'REFUND' (0.92 alike)"),
        (
            "labels.BROKEN_ON_ARRIVAL.description",
            "described like 'DAMAGED_ITEM' (100% of the words in common)",
        ),
        ("labels.PRICE.description", "no description; the model sees only the id 'PRICE'"),
        ("labels.INTERNATIONAL.description", "runs over 2 lines"),
        ("labels.BROKEN_ON_ARRIVAL.examples", "no examples, while 28 of the 38 labels have some"),
        ("labels.GIFT_WRAP.replaced_by", "deprecated without a replacement"),
        ("lineage", "does not name this taxonomy; add kitchen_sink: '0.3.0' to it"),
    ]
    load_run_config(compose([f"hydra.searchpath=[file://{BAD}]", "taxonomy=kitchen_sink"]))


def test_broken_reports_all_its_errors() -> None:
    found = bad("broken")
    assert [(f.level, f.key) for f in found] == [
        ("error", "labels.NOISE.descripton"),
        ("error", "allow_emtpy"),
        ("error", "labels.WASTE"),
        ("error", "labels.POTHOLES.parent"),
        ("error", "labels.PARKS.parent"),
        ("error", "labels.RUBBISH.replaced_by"),
        ("error", "none_label"),
        ("error", "exclusive.urgency"),
        ("error", "exclusive.service"),
        ("warning", "labels.NOISE.description"),
    ]


def labelwise(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framework", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_exit_codes() -> None:
    clean = labelwise("lint", "taxonomy=news")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("taxonomy news 1.0.0 (taxonomy=news)\n")
    assert clean.stdout.endswith("no problems: news 1.0.0 follows every practice lint checks\n")
    warned = labelwise(
        "lint", "hydra.searchpath=[file://examples/bad_taxonomy]", "taxonomy=kitchen_sink"
    )
    assert warned.returncode == 1, warned.stderr
    assert "\nwarning  labels.REFUNDS  reads like 'REFUND' (0.92 alike)\n" in warned.stdout
    assert warned.stdout.endswith("\n0 errors, 23 warnings in kitchen_sink 0.3.0\n")
    broken = labelwise("lint", "hydra.searchpath=[file://examples/bad_taxonomy]", "taxonomy=broken")
    assert broken.returncode == 2, broken.stderr
    assert "\nerror    labels.POTHOLES.parent  'ROAD' is not a label id\n" in broken.stdout
    assert broken.stdout.endswith("\n9 errors, 1 warning in broken 0.1.0\n")


def test_a_config_that_does_not_compose_is_one_line_and_exit_2() -> None:
    result = labelwise("lint", "taxonomy=nope")
    assert result.returncode == 2
    assert result.stderr.startswith("labelwise: error: taxonomy=nope: no such option")
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1


def test_help_names_the_exit_codes() -> None:
    result = labelwise("lint", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: labelwise lint")
    assert "exit codes: 0 no findings, 1 warnings only, 2 errors" in result.stdout
    assert "lint " in labelwise("--help").stdout


def test_findings_name_the_file_of_the_chain_that_set_them(tmp_path: Path) -> None:
    (tmp_path / "taxonomy").mkdir()
    (tmp_path / "taxonomy" / "base.yaml").write_text(GOOD.replace("name: t", "name: base"))
    team = "defaults: [base, _self_]\nname: team\nlineage: {team: '1'}\nlabels:\n  hydro: {}\n"
    (tmp_path / "taxonomy" / "team.yaml").write_text(team)
    result = labelwise("lint", f"hydra.searchpath=[file://{tmp_path}]", "taxonomy=team")
    assert result.returncode == 1, result.stderr
    assert f"  built from {tmp_path}/taxonomy/base.yaml\n  in {tmp_path}/taxonomy/team.yaml\n" in (
        result.stdout
    )
    assert "warning  labels.hydro.description  no description" in result.stdout
    assert f"\n         in {tmp_path}/taxonomy/team.yaml\n" in result.stdout
    assert "  lineage t 1, team 1\n" in result.stdout


@pytest.mark.parametrize("name", ["kitchen_sink", "broken"])
def test_the_readme_shows_what_lint_prints(name: str) -> None:
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(taxonomy .*?)\n```", readme, re.DOTALL)
    shown = next(block for block in blocks if block.startswith(f"taxonomy {name} "))
    result = labelwise(
        "lint", "hydra.searchpath=[file://examples/bad_taxonomy]", f"taxonomy={name}"
    )
    assert result.stdout.rstrip("\n") == shown, "update examples/bad_taxonomy/README.md"
