"""A run's rows to review, as Label Studio tasks with the run's labels as predictions.

    export = export_tasks(RunFolder.of(run_dir), rows="review", out_dir=run_dir / "label-studio")
    export.tasks_file, export.config_file     # tasks.json, labeling-config.xml

Which rows: `band` (confidence within thresholds.abstain_band of a threshold:
the rows marked `review`), `failed`, `review` (both; the default), `all`, or
`spot-check` (a routed run: a seeded sample of SPOT_CHECK rows of each machine tier,
for a person to confirm what record.json's route section expects of it).
Each task's data holds the text, the row's id (`row_id`) and its taxonomy stamp,
so the corrections come back as gold rows evaluate can check; its prediction
holds the run's labels and a score (how sure the model was of its least sure
decision), so Label Studio can sort the least sure first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

from framework.errors import InputError
from framework.results import ResultRow, RunFolder
from framework.run_record import RunRecord

__all__ = [
    "FROM_NAME",
    "TO_NAME",
    "TaskExport",
    "build_task",
    "export_tasks",
    "labeling_config",
    "run_labels",
    "select_rows",
    "write_tasks",
]

Which = Literal["review", "band", "failed", "all", "spot-check"]
SPOT_CHECK = 20  # rows a spot check draws of each tier
FROM_NAME, TO_NAME = "labels", "text"
TASKS_FILE, CONFIG_FILE = "tasks.json", "labeling-config.xml"


@dataclass(frozen=True)
class TaskExport:
    tasks_file: Path
    config_file: Path
    tasks: int
    without_text: int
    project_title: str
    label_config: str
    task_list: list[dict[str, Any]]


def select_rows(rows: Iterable[ResultRow], which: Which) -> Iterable[ResultRow]:
    """The rows to review: the abstain band, the failed rows, both, all, or a spot check."""
    if which == "spot-check":
        yield from spot_check(rows)
        return
    for row in rows:
        if (
            which == "all"
            or (which in ("band", "review") and row.review)
            or (which in ("failed", "review") and not row.ok)
        ):
            yield row


def spot_check(rows: Iterable[ResultRow], per_tier: int = SPOT_CHECK) -> list[ResultRow]:
    """A seeded sample of each machine tier's ok rows (tier trained, llm): the rows
    whose ids hash lowest, so the same results give the same sample."""
    import hashlib

    by_tier: dict[str, list[tuple[str, ResultRow]]] = {}
    for row in rows:
        tier = row.extra.get("tier")
        if row.ok and tier not in (None, "human"):
            key = hashlib.sha256(f"spot-check:{row.id}".encode()).hexdigest()
            by_tier.setdefault(str(tier), []).append((key, row))
    return [row for tier in sorted(by_tier) for _, row in sorted(by_tier[tier])[:per_tier]]


def labeling_config(
    labels: Sequence[str],
    descriptions: Mapping[str, str] | None = None,
    *,
    title: str = "",
    image: bool = False,
) -> str:
    """A multi-choice labeling config: the text (and the row's image, for a run with
    images), what labelwise said, one choice a label."""
    hints = descriptions or {}
    choices = "\n".join(
        f"    <Choice value={quoteattr(label)}"
        + (f" hint={quoteattr(hints[label])}" if hints.get(label) else "")
        + "/>"
        for label in labels
    )
    header = f"Which labels apply? {title}".strip()
    return (
        "<View>\n"
        f"  <Header value={quoteattr(header)}/>\n"
        + ('  <Image name="image" value="$image" maxWidth="512px"/>\n' if image else "")
        + f'  <Text name="{TO_NAME}" value="$text"/>\n'
        '  <Text name="labelwise" value="$labelwise"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="multiple" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def decision_score(row: ResultRow) -> float | None:
    """How sure the model was of its least sure label decision (None without confidence)."""
    if not row.confidence:
        return None
    chosen = set(row.labels)
    sure = [p if label in chosen else 1.0 - p for label, p in row.confidence.items()]
    return round(min(sure), 4) if sure else None


def build_task(
    row: ResultRow, text: str, *, model_version: str, image: str | None = None
) -> dict[str, Any]:
    """One Label Studio task: data (text, its image as a data: URI when the run had
    images, ids, what labelwise said) and its prediction."""
    said = ", ".join(row.labels) or "(no label)"
    if not row.ok:
        said = f"failed: {row.error or 'no reason recorded'}"
    elif row.confidence:
        said += " | confidence " + ", ".join(
            f"{label} {p:.2f}" for label, p in sorted(row.confidence.items())
        )
    task: dict[str, Any] = {
        "data": {
            "text": text,
            "row_id": row.id,
            "labelwise": f"labelwise: {said}",
            "status": row.status,
            "taxonomy": row.taxonomy or "",
            "taxonomy_hash": row.taxonomy_hash or "",
        },
        "predictions": [],
    }
    if image is not None:
        task["data"]["image"] = image
    if row.ok:
        prediction: dict[str, Any] = {
            "model_version": model_version,
            "result": [
                {
                    "from_name": FROM_NAME,
                    "to_name": TO_NAME,
                    "type": "choices",
                    "value": {"choices": list(row.labels)},
                }
            ],
        }
        score = decision_score(row)
        if score is not None:
            prediction["score"] = score
        task["predictions"].append(prediction)
    return task


def _descriptions(record: RunRecord) -> dict[str, str]:
    labels = (record.config.get("taxonomy") or {}).get("labels")
    if isinstance(labels, Mapping):
        return {
            str(k): str(v.get("description") or "")
            for k, v in labels.items()
            if isinstance(v, Mapping)
        }
    return {}


def _previews(source: Path, ids: set[str], columns: Any) -> dict[str, str]:
    """Each row's first image, 512 pixels at most, as a data: URI (Label Studio's Image
    tag shows it with no file server); 50 MB of them in all."""
    from framework.evaluation.thumbnails import read_thumbnails

    return read_thumbnails(source, ids, columns, side=512, budget=50_000_000)


def export_tasks(folder: RunFolder, *, which: Which, out_dir: Path) -> TaskExport:
    """Write tasks.json and labeling-config.xml for the rows to review of a run."""
    run_labels(folder)
    chosen = list(select_rows(folder.rows(), which))
    if not chosen:
        hint = {
            "band": "none was in the abstain band (set thresholds.abstain_band when classifying)",
            "failed": "no row failed",
            "review": "none failed or was in the abstain band (thresholds.abstain_band)",
            "all": "the results are empty",
            "spot-check": "no row was decided by a machine tier of a route (route.tiers)",
        }[which]
        raise InputError(f"no rows to review in {folder.results}: {hint}; try --rows all")
    return write_tasks(folder, chosen, out_dir=out_dir)


def run_labels(folder: RunFolder) -> list[str]:
    """The labels of the run's taxonomy (InputError without a record naming them)."""
    labels = list((folder.record or RunRecord()).taxonomy.labels)
    if not labels:
        raise InputError(
            f"{folder.path} has no record.json naming its taxonomy's labels; export the "
            "folder of a labelwise classify run"
        )
    return labels


def write_tasks(
    folder: RunFolder,
    chosen: Sequence[ResultRow],
    *,
    out_dir: Path,
    why: Mapping[str, Mapping[str, Any]] | None = None,
) -> TaskExport:
    """Write tasks.json and labeling-config.xml for `chosen` rows of a run; `why` adds
    fields to a row's task data (the review queue's reason and score)."""
    from framework.config.run_settings import ColumnNames
    from framework.evaluation.texts import read_texts

    record = folder.record or RunRecord()
    taxonomy = record.taxonomy
    labels = run_labels(folder)
    source = record.input.path
    columns = ColumnNames.model_validate(record.config.get("columns") or {})
    texts = read_texts(Path(source), {row.id for row in chosen}, columns) if source else {}
    images = _previews(Path(source), set(texts), columns) if source else {}
    version = f"labelwise {folder.path.name}"
    tasks = []
    for row in chosen:
        if row.id in texts:
            image = images.get(row.id)
            task = build_task(row, texts[row.id], model_version=version, image=image)
            added = (why or {}).get(row.id, {})
            task["data"].update(added)
            if added.get("why"):  # shown to the annotator under what labelwise said
                task["data"]["labelwise"] += f" | picked: {added['why']}"
            tasks.append(task)
    if not tasks:
        raise InputError(
            f"the texts of the rows to review are not in the run's input ({source}); "
            "the input file must still be where the run read it"
        )
    name = f"{taxonomy.name or ''}@{taxonomy.version or ''}".strip("@")
    config = labeling_config(
        labels, _descriptions(record), title=f"(taxonomy {name})", image=bool(images)
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks_file, config_file = out_dir / TASKS_FILE, out_dir / CONFIG_FILE
    data = json.dumps(tasks, indent=1, ensure_ascii=False) + "\n"
    # A lone surrogate (a text that was not valid UTF-8) is written as the JSON escape \udc00.
    tasks_file.write_text(data, "utf-8", errors="backslashreplace")
    config_file.write_text(config, encoding="utf-8")
    title = f"labelwise review: {folder.path.name} ({name})"
    return TaskExport(
        tasks_file, config_file, len(tasks), len(chosen) - len(tasks), title, config, tasks
    )
