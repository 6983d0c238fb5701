"""Matplotlib figures of what dvc.yaml's plots show, for readers without DVC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay  # noqa: E402

PNG: dict[str, Any] = {"dpi": 100, "metadata": {"Software": None}}


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, **PNG)
    plt.close(fig)


def curves(history: dict[str, pd.DataFrame], path: Path, title: str) -> None:
    """history: {"loss": frame with step, train, val columns, "accuracy": ...}."""
    fig, axes = plt.subplots(1, len(history), figsize=(5 * len(history), 3.5), squeeze=False)
    for ax, (name, frame) in zip(axes[0], history.items(), strict=True):
        for split in ("train", "val"):
            ax.plot(frame["step"] + 1, frame[split], label=split)
        ax.set(xlabel="epoch", ylabel=name, title=f"{title}: {name}")
        ax.legend()
    _save(fig, path)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...], path: Path, title: str) -> None:
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 * n + 2.5, 1.2 * n + 2))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=list(range(n)), display_labels=list(classes), ax=ax, cmap="Blues", colorbar=False
    )
    ax.set(xlabel="predicted", ylabel="actual", title=title)
    ax.tick_params(axis="x", labelrotation=45 if n > 4 else 0)
    _save(fig, path)


def roc(fpr: np.ndarray, tpr: np.ndarray, auc: float | None, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    RocCurveDisplay(fpr=fpr, tpr=tpr, roc_auc=auc).plot(ax=ax, plot_chance_level=True)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    _save(fig, path)


def recall_bars(table: pd.DataFrame, path: Path, title: str) -> None:
    """A table of (label, rows, recall), one bar a label, sorted by recall (worst at the top)."""
    ordered = table.sort_values("recall", ascending=False)
    labels = [f"{label} ({rows})" for label, rows in zip(ordered.iloc[:, 0], ordered["rows"], strict=True)]
    fig, ax = plt.subplots(figsize=(6, 0.22 * len(ordered) + 1.2))
    ax.barh(labels, ordered["recall"])
    ax.set(xlabel="recall", xlim=(0, 1), title=title)
    ax.tick_params(axis="y", labelsize=7)
    _save(fig, path)


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(actual, predicted, s=12)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], linestyle="--", color="grey")
    ax.set(xlabel="actual", ylabel="predicted", title=title)
    _save(fig, path)


def image_grid(images: np.ndarray, captions: list[str], path: Path, title: str, columns: int = 8) -> None:
    """Images (N, C, H, W), uint8 or float (each float image scaled to its own range)."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.5 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        picture = image.transpose(1, 2, 0).astype(np.float64)
        if image.dtype != np.uint8:
            picture = (picture - picture.min()) / max(picture.max() - picture.min(), 1e-12)
        else:
            picture /= 255.0
        ax.imshow(picture[..., 0] if picture.shape[2] == 1 else picture, cmap="gray" if picture.shape[2] == 1 else None)
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title)
    _save(fig, path)


def budgets(points: pd.DataFrame, default: int, task: str, path: Path) -> None:
    """bench/budgets.py's curve: validation accuracy against training minutes, a point a budget."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(points["minutes"], points["val_accuracy"], marker="o")
    for row in points.itertuples():
        label = f"{row.epochs} epochs" + (" (default)" if row.epochs == default else "")
        ax.annotate(label, (row.minutes, row.val_accuracy), textcoords="offset points", xytext=(-6, 6), ha="right")
    ax.set(xlabel="training minutes (2 CPU threads, portable kernels)", ylabel="validation accuracy", xlim=(0, None))
    ax.set_title(f"{task}: accuracy against training time")
    ax.margins(y=0.15)
    ax.grid(alpha=0.3)
    _save(fig, path)
