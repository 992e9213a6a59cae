"""The trained model's pipelines, how several are combined, and per-label cuts.

    members = pipelines("both", "average", C=4.0)   # factories of unfitted pipelines
    probabilities(fitted_members, inputs)           # rows x labels (their mean)
    cuts = best_cuts(pool_scores, y)                # per label, the F1-best cut (cross-fitted)
    on_cut_scale(scores, cuts)                      # each label's cut moved to 0.5

A pipeline is TF-IDF of word 1-2-grams and character 2-5-grams (sublinear tf), the
embedding model's vectors, or both side by side, then one logistic regression per label
(one-vs-rest, balanced class weights). With trained.combine=average (features=both) the
model is two pipelines, one per feature set, whose probabilities are averaged: measured
on the dev split (benchmarks/trained_models.py), the average beats one regression over
both feature sets side by side, whose TF-IDF columns outnumber and drown the 384
embedding dimensions. scikit-learn's VotingClassifier and StackingClassifier take one
label per row, not a label matrix, hence these few lines.

Inputs are texts (features=tfidf) or (text, vector) pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "best_cuts",
    "on_cut_scale",
    "pipelines",
    "probabilities",
    "texts_of",
    "vectors_of",
    "word_vectorizer",
]

Factory = Callable[[], Any]


def texts_of(pairs: Sequence[tuple[str, Any]]) -> list[str]:
    return [text for text, _ in pairs]


def vectors_of(pairs: Sequence[tuple[str, Any]]) -> Any:
    import numpy as np

    return np.vstack([vector for _, vector in pairs])


def _learner(C: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(LogisticRegression(C=C, class_weight="balanced", max_iter=2000))


def _tfidf() -> Any:
    from sklearn.pipeline import FeatureUnion

    from framework.learning.tfidf import CompactTfidf

    return FeatureUnion(
        [
            ("words", CompactTfidf(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            (
                "chars",
                CompactTfidf(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True),
            ),
        ]
    )


def pipelines(features: str, combine: str = "one", C: float = 4.0) -> list[Factory]:
    """Factories of the model's unfitted pipelines: one, or one per feature set."""
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    # Module functions, by name: the artifact's loader trusts exactly these.
    def on_texts() -> Any:
        return make_pipeline(_tfidf(), _learner(C))

    def on_texts_of_pairs() -> Any:
        return make_pipeline(FunctionTransformer(texts_of), _tfidf(), _learner(C))

    def on_vectors() -> Any:
        return make_pipeline(FunctionTransformer(vectors_of), _learner(C))

    def on_both() -> Any:
        text = make_pipeline(FunctionTransformer(texts_of), _tfidf())
        union = FeatureUnion([("text", text), ("embedding", FunctionTransformer(vectors_of))])
        return make_pipeline(union, _learner(C))

    if combine == "average":
        return [on_texts_of_pairs, on_vectors]
    return [{"tfidf": on_texts, "embeddings": on_vectors, "both": on_both}[features]]


def probabilities(members: Sequence[Any], inputs: Any) -> Any:
    """The mean of the fitted members' probabilities (rows x labels)."""
    import numpy as np

    return np.mean([member.predict_proba(inputs) for member in members], axis=0)


def word_vectorizer(members: Sequence[Any]) -> Any:
    """The word TF-IDF inside a fitted model's first pipeline that has one."""
    from sklearn.pipeline import FeatureUnion, Pipeline

    for member in members:
        for _, step in member.steps:
            if isinstance(step, FeatureUnion):
                union = step.transformer_list[0][1]
                if isinstance(union, Pipeline):  # the text half of a FeatureUnion of both
                    union = union.steps[-1][1].transformer_list[0][1]
                return union
    raise ValueError("no TF-IDF in this model")


def best_cuts(scores: Any, y: Any, *, floor: float = 0.05, ceiling: float = 0.95) -> Any:
    """Per label, the probability cut that maximises F1 on (cross-fitted) scores, kept
    within [floor, ceiling]; 0.5 for a label with no positive row. scikit-learn's
    precision-recall curve gives every cut."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    scores, y = np.asarray(scores), np.asarray(y)
    chosen = np.full(scores.shape[1], 0.5)
    for n in range(scores.shape[1]):
        if not y[:, n].any() or y[:, n].all():
            continue
        precision, recall, cuts = precision_recall_curve(y[:, n], scores[:, n])
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        if len(cuts):
            chosen[n] = min(max(float(cuts[int(np.argmax(f1[:-1]))]), floor), ceiling)
    return chosen


def on_cut_scale(scores: Any, cuts: Sequence[float]) -> Any:
    """Each label's probabilities mapped so its cut lands on 0.5, piecewise linearly and
    keeping the order: [0, cut] onto [0, 0.5] and [cut, 1] onto [0.5, 1]."""
    import numpy as np

    scores, cut = np.asarray(scores, dtype=float), np.asarray(cuts, dtype=float)
    low = scores / (2 * cut)
    high = 0.5 + (scores - cut) / (2 * (1 - cut))
    return np.where(scores < cut, low, high)
