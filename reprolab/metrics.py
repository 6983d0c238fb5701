"""Metrics by task kind: pure functions of labels, predictions and scores."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

DIGITS = 6


def rounded(value):
    """Floats in nested dicts rounded, so that `dvc metrics diff` reads well."""
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    return round(float(value), DIGITS) if isinstance(value, float | np.floating) else value


def binary(y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    both = len(np.unique(y_true)) == 2
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        # ROC-AUC is undefined when the split holds one class only
        "roc_auc": float(skm.roc_auc_score(y_true, score)) if both else None,
    }


def multiclass(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...], per_class: bool) -> dict:
    """Accuracy and macro-F1; with per_class, each class's accuracy (its recall), precision and F1."""
    labels = np.arange(len(classes))
    result = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }
    if per_class:
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=0
        )
        result["per_class"] = {
            name: {"accuracy": float(recall[i]), "precision": float(precision[i]), "f1": float(f1[i])}
            if support[i]
            else None
            for i, name in enumerate(classes)
        }
    return result


def regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    mse = skm.mean_squared_error(y_true, y_pred)
    return {
        "mse": float(mse),
        "rmse": float(np.sqrt(mse)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
    }


def roc_points(y_true: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    fpr, tpr, threshold = skm.roc_curve(y_true, score)
    return {"fpr": fpr, "tpr": tpr, "threshold": np.clip(threshold, 0.0, 1.0)}
