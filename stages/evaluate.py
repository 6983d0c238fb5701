"""Evaluate the saved model on every split: headline metrics, details, plot data, figures, predictions.

All of it goes to data/evaluation/T (cached, so that DVC's run cache can restore it; the
publish stage copies it to where git keeps it): metrics.json holds the headline figures only
(metrics/T.json, what `dvc exp show` and `dvc metrics diff` show); reports/details.json holds
everything: per-class figures, subsets, the data's sources, the training run's summary and
what decided its bits (device, kernels, threads).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from reprolab import figures, metrics, model_card, model_file, paths
from reprolab.cli import run
from reprolab.files import atomic_path, read_json, write_json
from reprolab.inference import LOSSES, load_split, outputs, predict, predictions_table
from reprolab.models import input_key
from reprolab.params import Params
from reprolab.splitting import read_split
from reprolab.tasks.base import SOURCES_FILE, Task


def curves(task: Task) -> dict[str, pd.DataFrame]:
    """The per-epoch curves DVCLive wrote in the train stage, as {metric: step, train, val}."""
    names = ("loss",) if task.kind == "regression" else ("loss", "accuracy")
    tsv = paths.live(task.name) / "plots" / "metrics"
    return {
        name: pd.read_csv(tsv / "train" / f"{name}.tsv", sep="\t")
        .rename(columns={name: "train"})
        .assign(val=pd.read_csv(tsv / "val" / f"{name}.tsv", sep="\t")[name])
        for name in names
    }


def evaluate(task: Task, params: Params) -> None:
    checkpoint, model = model_file.load(paths.model(task.name), task.name)
    meta = read_json(paths.features(task.name) / "meta.json")
    classes = tuple(meta["classes"])
    loss_fn = LOSSES[task.kind]()
    threshold = checkpoint["config"]["threshold"]

    splits = [s for s in paths.SPLITS if s in meta["rows"]]
    # Plots, figures, per-class figures and predictions are of the last split: test, or
    # validation where a task has no test split (y, pred, score and ids stay that split's).
    final = splits[-1]
    results: dict = {}
    for split in splits:
        data, ids = load_split(paths.features(task.name) / f"{split}.pt", input_key(checkpoint["config"]))
        out = outputs(model, data.x, task.kind)
        y = data.y.numpy()
        pred, score = (t.numpy() for t in predict(out, task.kind, threshold))
        found = (
            metrics.regression(y, pred)
            if task.kind == "regression"
            else metrics.classification(y, pred, score, classes)
        )
        results[split] = {"loss": loss_fn(out, data.y).item(), **found}
        results[split] |= meta.get("split_metrics", {}).get(split, {})  # e.g. unseen categories, OOV rate
    title = f"{task.name} ({final})"
    named = (lambda v: np.asarray(classes)[v.astype(int)]) if classes else (lambda v: v)

    with atomic_path(paths.evaluation(task.name)) as evaluation:
        plots, reports = evaluation / "plots", evaluation / "reports"
        plots.mkdir(parents=True)
        reports.mkdir()
        figures.curves(curves(task), reports / "curves.png", task.name)
        predictions = predictions_table(ids.numpy().tolist(), out, task.kind, list(classes), threshold)
        predictions.to_csv(reports / "predictions.csv", index=False, float_format="%.9g")
        if task.kind == "regression":
            pd.DataFrame({"actual": y, "predicted": pred}).to_csv(plots / "predicted_vs_actual.csv", index=False)
            figures.predicted_vs_actual(y, pred, reports / "predicted_vs_actual.png", title)
        else:
            y = y.astype(int)
            pd.DataFrame({"actual": named(y), "predicted": named(pred)}).to_csv(plots / "confusion.csv", index=False)
            figures.confusion(y, pred, classes, reports / "confusion.png", title)
        if task.kind == "binary":
            roc = metrics.roc_points(y, score)
            pd.DataFrame(roc).to_csv(plots / "roc.csv", index=False, float_format="%.6g")
            figures.roc(roc["fpr"], roc["tpr"], results[final]["roc_auc"], reports / "roc.png", title)
        if task.is_image:
            wrong = np.flatnonzero(pred != y)[:32]
            captions = [f"{classes[y[i]]} as {classes[pred[i]]}" for i in wrong]
            figures.image_grid(data.x[wrong].numpy(), captions, reports / "misclassified.png", f"{title}: errors")
            if checkpoint["config"]["name"] == "linear":  # "the weights look like digits"
                layer = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
                weights = layer.weight.detach().numpy().reshape(len(classes), *task.image_shape)
                figures.image_grid(weights, list(classes), reports / "weights.png", f"{task.name}: weights per class")
        if task.report is not None:
            rows = read_split(task, final).loc[ids.numpy(), list(task.extras)]
            subsets, tables = task.report(rows, y, pred, score)
            results |= subsets
            for name, table in tables.items():
                table.to_csv(plots / f"{name}.csv", index=False, float_format="%.6g")
                figures.recall_bars(table, reports / f"{name}.png", f"{title}: recall per {table.columns[0]}")
        details = metrics.rounded({
            "model": {"name": checkpoint["config"]["name"], "parameters": sum(p.numel() for p in model.parameters())},
            "metrics": results,
            "sources": read_json(paths.raw(task.name) / SOURCES_FILE),
            "training": read_json(paths.live(task.name) / "metrics.json"),
        })  # fmt: skip
        headline = metrics.rounded(metrics.headline(task.kind, results, final))
        write_json(reports / "details.json", details)
        config = {f"model.{k}": v for k, v in checkpoint["config"].items() if k not in ("normalize", "n_in", "n_out")}
        settings = config | read_json(paths.train_params(task.name))
        figures_made = [name for name in model_card.FIGURES if (reports / name).exists()]
        card = model_card.render(task, details, headline, settings, meta["rows"], figures_made)
        (reports / "README.md").write_text(card)
        write_json(evaluation / "metrics.json", headline)


if __name__ == "__main__":
    run(evaluate)
