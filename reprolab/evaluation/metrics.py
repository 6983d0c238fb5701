"""Metrics by task kind: pure functions of labels, predictions and scores.

One naming scheme everywhere: `accuracy`, `macro_f1`, `roc_auc`, `loss`, `r2`, `rmse`,
`mae`, `mse`, and per class `recall`, `precision`, `f1` and `rows`. The headline
figures (HEADLINE) go to metrics/T.json, everything to reports/T/details.json.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

DIGITS = 6
# What metrics/T.json holds, so that `dvc exp show` stays readable: the loss of every split
# but test, the headline of validation and test, and the final split's summary figures.
HEADLINE = {"binary": ("accuracy",), "multiclass": ("accuracy",), "regression": ("r2", "rmse")}
SUMMARY = {"binary": ("macro_f1", "roc_auc"), "multiclass": ("macro_f1",), "regression": ()}


def rounded(value):
    """Floats in nested dicts rounded, so that `dvc metrics diff` reads well."""
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    return round(float(value), DIGITS) if isinstance(value, float | np.floating) else value


def classification(y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Accuracy, macro-F1, each class's recall, precision, F1 and rows and, for two classes
    (score: the probability of class 1), ROC-AUC."""
    labels = np.arange(len(classes))
    precision, recall, f1, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    result = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            name: {"recall": float(recall[i]), "precision": float(precision[i]), "f1": float(f1[i]), "rows": int(n)}
            if (n := support[i])
            else {"rows": 0}
            for i, name in enumerate(classes)
        },
    }
    if score.ndim == 1:  # binary; ROC-AUC is undefined when the split holds one class only
        result["roc_auc"] = float(skm.roc_auc_score(y_true, score)) if len(np.unique(y_true)) == 2 else None
    return result


def regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    mse = skm.mean_squared_error(y_true, y_pred)
    return {
        "mse": float(mse),
        "rmse": float(np.sqrt(mse)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
    }


def headline(kind: str, results: dict[str, dict], final: str) -> dict[str, dict]:
    """The figures of metrics/T.json, taken from the full results {split or subset: metrics}."""
    picked = {}
    keys: tuple[str, ...]
    for split, values in results.items():
        if split == "train":
            keys = ("loss",)
        elif split == "val":
            keys = ("loss", *HEADLINE[kind])
        else:  # test, or a named subset of its rows (e.g. KDDTest-21)
            keys = HEADLINE[kind]
        if split == final:
            keys += SUMMARY[kind]
        picked[split] = {key: values[key] for key in keys if key in values}
    return picked


def roc_points(y_true: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    fpr, tpr, threshold = skm.roc_curve(y_true, score)
    return {"fpr": fpr, "tpr": tpr, "threshold": np.clip(threshold, 0.0, 1.0)}
