"""Gold that may be wrong: gold rows ranked most suspect first, with the suspect labels
and the evidence, by cleanlab's multi-label label-issue finder.

    found = audit_gold(rows, labels, folds=5, llm=answers)  # rows: (id, text, labels)
    found[0].id, found[0].suspects, found[0].quality, found[0].issue

The evidence is the trained model's cross-fitted probabilities: the labeled rows are cut
into `folds` by a hash of each text (as the trained model cuts its pool, so copies of a
text share a fold), a word TF-IDF + logistic-regression model (cheap_model) is fit
without each fold and scores the rows of that fold; no row is scored by a model that
saw its gold. cleanlab then ranks the rows (`get_label_quality_scores`, lowest first),
says which it finds to be label issues (`multilabel_classification.filter`'s
`find_label_issues`) and, per label, which rows' gold for that label it doubts
(`find_multilabel_issues_per_class`). A row's suspect labels are those; a row it
ranks low without naming a label gets the label where gold and model differ most.
With a run's answers (`llm`), each suspect label says what the LLM answered too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from framework.errors import InputError

__all__ = ["Suspect", "SuspectRow", "audit_gold", "cheap_model", "cross_fitted"]


@dataclass(frozen=True)
class Suspect:
    label: str
    gold: bool  # whether the gold row holds it
    model: float  # the cross-fitted model's probability of it
    llm: bool | None = None  # whether the run's LLM gave it (None: no run, or not in it)


@dataclass(frozen=True)
class SuspectRow:
    id: str
    text: str
    labels: tuple[str, ...]
    quality: float  # cleanlab's label quality score: low is suspect
    issue: bool  # cleanlab finds a label issue in the row
    suspects: tuple[Suspect, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "labels": list(self.labels),
            "issue": self.issue,
            "quality": round(self.quality, 6),
            "suspects": [
                {
                    "label": s.label,
                    "gold": s.gold,
                    "model": round(s.model, 4),
                    **({} if s.llm is None else {"llm": s.llm}),
                }
                for s in self.suspects
            ],
            "text": self.text,
        }


def cheap_model(C: float = 4.0) -> Any:
    """Word 1-2-gram TF-IDF and one liblinear logistic regression per label (balanced).
    Not the trained model's own pipeline (framework.learning.ensemble, words and
    characters, lbfgs): that one fits some 20x slower here (about 9 s against 0.4 s on
    1,500 GoEmotions rows, 2 shared cores) for 0.05 more macro-F1, and the audit fits
    `folds` of them."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        OneVsRestClassifier(LogisticRegression(C=C, class_weight="balanced", solver="liblinear")),
    )


def cross_fitted(texts: Sequence[str], y: Any, *, folds: int = 5, C: float = 4.0) -> Any:
    """Rows x labels: each row's probabilities from the model fit without its fold."""
    import numpy as np

    from framework.learning.trained import text_digest

    fold_of = np.array([int(text_digest(text)[:8], 16) % folds for text in texts])
    scores = np.zeros(y.shape, dtype=float)
    for fold in range(folds):
        held, kept = np.flatnonzero(fold_of == fold), np.flatnonzero(fold_of != fold)
        if not len(held):
            continue
        fitted = cheap_model(C).fit([texts[int(n)] for n in kept], y[kept])
        scores[held] = fitted.predict_proba([texts[int(n)] for n in held])
    return scores


def audit_gold(
    rows: Sequence[tuple[str, str, Sequence[str]]],
    labels: Sequence[str],
    *,
    folds: int = 5,
    llm: Mapping[str, Sequence[str]] | None = None,
    scores: Any = None,
) -> list[SuspectRow]:
    """Every row, most suspect first (see the module). `scores`: probabilities already
    cross-fitted (rows x labels), else fit here."""
    import numpy as np
    from cleanlab.multilabel_classification import get_label_quality_scores
    from cleanlab.multilabel_classification.filter import (
        find_label_issues,
        find_multilabel_issues_per_class,
    )

    index = {label: n for n, label in enumerate(labels)}
    given = [
        [index[label] for label in dict.fromkeys(gold) if label in index] for _, _, gold in rows
    ]
    y = np.zeros((len(rows), len(labels)), dtype=int)
    for n, held in enumerate(given):
        y[n, held] = 1
    absent = [label for n, label in enumerate(labels) if not y[:, n].any() or y[:, n].all()]
    if absent:
        raise InputError(
            f"no gold row holds (or every row holds) {', '.join(absent)}; the audit learns "
            "each label from rows with and without it: give more rows, or the taxonomy's "
            "labels only (--taxonomy)"
        )
    if len(rows) < 2 * folds:
        raise InputError(f"{len(rows)} gold rows are too few to cross-fit {folds} folds")
    if scores is None:
        scores = cross_fitted([text for _, text, _ in rows], y, folds=folds)
    scores = np.clip(np.asarray(scores, dtype=float), 1e-6, 1 - 1e-6)
    quality = get_label_quality_scores(given, scores)
    issues = set(find_label_issues(given, scores, n_jobs=1).nonzero()[0].tolist())
    per_label = np.asarray(find_multilabel_issues_per_class(given, scores, n_jobs=1))
    found = []
    for n, (row_id, text, _) in enumerate(rows):
        doubted = per_label[n].nonzero()[0].tolist() or [int(np.abs(y[n] - scores[n]).argmax())]
        answered = (llm or {}).get(row_id)
        suspects = tuple(
            Suspect(
                labels[k],
                bool(y[n, k]),
                float(scores[n, k]),
                None if answered is None else labels[k] in answered,
            )
            for k in sorted(doubted, key=lambda k: -abs(y[n, k] - scores[n, k]))
        )
        names = tuple(labels[k] for k in given[n])
        found.append(SuspectRow(row_id, text, names, float(quality[n]), n in issues, suspects))
    found.sort(key=lambda row: (not row.issue, row.quality))
    return found
