"""Evaluate the saved model on every split: metrics JSON, plot data, figures, predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from reprolab import metrics, paths, reporting
from reprolab.cli import run
from reprolab.io import atomic_path, read_json, write_json
from reprolab.models import build, input_key
from reprolab.params import Params
from reprolab.tasks.base import SOURCES_FILE, Task
from reprolab.training import load_split, outputs, predict
from stages.featurize import read_split


def split_metrics(
    kind: str, classes: tuple[str, ...], y: np.ndarray, pred: np.ndarray, score: np.ndarray, detailed: bool
) -> dict:
    if kind == "binary":
        return metrics.binary(y, pred, score)
    if kind == "multiclass":
        return metrics.multiclass(y, pred, classes, per_class=detailed)
    return metrics.regression(y, pred)


def curves(task: Task) -> dict[str, pd.DataFrame]:
    """The per-epoch curves DVCLive wrote in the train stage, as {metric: step, train, val}."""
    names = ("loss",) if task.kind == "regression" else ("loss", "acc")
    tsv = paths.live(task.name) / "plots" / "metrics"
    return {
        name: pd.read_csv(tsv / "train" / f"{name}.tsv", sep="\t")
        .rename(columns={name: "train"})
        .assign(val=pd.read_csv(tsv / "val" / f"{name}.tsv", sep="\t")[name])
        for name in names
    }


def evaluate(task: Task, params: Params) -> None:
    checkpoint = torch.load(paths.model(task.name), weights_only=True)
    model = build(checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    meta = read_json(paths.features(task.name) / "meta.json")
    classes = tuple(meta["classes"])

    splits = [s for s in paths.SPLITS if s in meta["rows"]]
    # Plots, figures, per-class figures and predictions are of the last split: test, or
    # validation where a task has no test split (y, pred, score and ids stay that split's).
    final = splits[-1]
    results: dict = {}
    for split in splits:
        data, ids = load_split(paths.features(task.name) / f"{split}.pt", input_key(checkpoint["config"]))
        y = data.y.numpy()
        pred, score = (t.numpy() for t in predict(outputs(model, data.x, task.kind), task.kind))
        results[split] = split_metrics(task.kind, classes, y, pred, score, detailed=split == final)
        results[split] |= meta.get("split_metrics", {}).get(split, {})  # e.g. unseen categories, OOV rate
    seen = read_json(paths.raw(task.name) / SOURCES_FILE)
    if unpinned := {name: s["sha256"] for name, s in seen.items() if not s["pinned"]}:
        results["unpinned_sources_sha256"] = unpinned
    title = f"{task.name} ({final})"
    named = (lambda v: np.asarray(classes)[v.astype(int)]) if classes else (lambda v: v)

    with atomic_path(paths.plots(task.name)) as plots, atomic_path(paths.reports(task.name)) as reports:
        plots.mkdir()
        reports.mkdir()
        reporting.curves(curves(task), reports / "curves.png", task.name)
        pd.DataFrame({"id": ids.numpy(), "pred": named(pred)}).to_csv(reports / "predictions.csv", index=False)
        if task.kind == "regression":
            pd.DataFrame({"actual": y, "predicted": pred}).to_csv(plots / "predicted_vs_actual.csv", index=False)
            reporting.predicted_vs_actual(y, pred, reports / "predicted_vs_actual.png", title)
        else:
            y = y.astype(int)
            pd.DataFrame({"actual": named(y), "predicted": named(pred)}).to_csv(plots / "confusion.csv", index=False)
            reporting.confusion(y, pred, classes, reports / "confusion.png", title)
        if task.kind == "binary":
            roc = metrics.roc_points(y, score)
            pd.DataFrame(roc).to_csv(plots / "roc.csv", index=False, float_format="%.6g")
            reporting.roc(roc["fpr"], roc["tpr"], results[final]["roc_auc"], reports / "roc.png", title)
        if task.is_image:
            wrong = np.flatnonzero(pred != y)[:32]
            captions = [f"{classes[y[i]]} as {classes[pred[i]]}" for i in wrong]
            reporting.image_grid(data.x[wrong].numpy(), captions, reports / "misclassified.png", f"{title}: errors")
            if checkpoint["config"]["name"] == "linear":  # "the weights look like digits"
                layer = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
                weights = layer.weight.detach().numpy().reshape(len(classes), *task.image_shape)
                reporting.image_grid(weights, list(classes), reports / "weights.png", f"{task.name}: weights per class")
        if task.report is not None:
            rows = read_split(task, final).loc[ids.numpy(), list(task.extras)]
            extra, tables = task.report(rows, y, pred, score)
            results[final].update(extra)
            for name, table in tables.items():
                table.to_csv(plots / f"{name}.csv", index=False, float_format="%.6g")
    write_json(paths.metrics(task.name), metrics.rounded(results))


if __name__ == "__main__":
    run(evaluate)
