"""The evaluate stage's work: the saved model on every split, and what is made of it.

All of it goes to data/evaluation/T (cached, so that DVC's run cache can restore it; the
publish stage copies it to where git keeps it): metrics.json holds the headline figures only
(metrics/T.json, what `dvc exp show` and `dvc metrics diff` show); reports/details.json holds
everything: per-class figures, subsets, the data's sources, the training run's summary and
what decided its bits (device, kernels, threads); plots/ what `dvc plots` draws (the curves'
data, the figures of the results); reports/ the curves' figure, the predictions table and the
model card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from reprolab.core import paths
from reprolab.core.files import atomic_path, read_json, write_json
from reprolab.core.params import Params
from reprolab.data.splitting import read_split
from reprolab.data.tasks.base import SOURCES_FILE, Task
from reprolab.evaluation import figures, metrics, model_card
from reprolab.evaluation.predictions import predictions_table
from reprolab.learning import model_file
from reprolab.learning.inference import LOSSES, decide, load_split, outputs
from reprolab.learning.models import entry


@dataclass
class Scored:
    """The last split's inputs, targets, outputs and decisions, and every split's figures."""

    split: str
    x: Tensor
    ids: np.ndarray
    y: np.ndarray
    out: Tensor
    pred: np.ndarray
    score: np.ndarray
    results: dict


def curves(task: Task) -> dict[str, pd.DataFrame]:
    """The per-epoch curves DVCLive wrote in the train stage, as {metric: step, train, val}."""
    names = ("loss",) if task.known_kind == "regression" else ("loss", "accuracy")
    tsv = paths.live(task.name) / "plots" / "metrics"
    return {
        name: pd.read_csv(tsv / "train" / f"{name}.tsv", sep="\t")
        .rename(columns={name: "train"})
        .assign(val=pd.read_csv(tsv / "val" / f"{name}.tsv", sep="\t")[name])
        for name in names
    }


def score(task: Task, model: torch.nn.Module, config: dict, meta: dict) -> Scored:
    """The model's figures on every split. The figures, plots, per-class figures and
    predictions are of the last split: test, or validation where a task has no test split."""
    classes, loss_fn = tuple(meta["classes"]), LOSSES[task.known_kind]()
    splits = [s for s in paths.SPLITS if s in meta["rows"]]
    results: dict = {}
    for split in splits:
        data, ids = load_split(paths.features(task.name) / f"{split}.npz", entry(config["name"]).reads)
        out = outputs(model, data.x, task.known_kind)
        y = data.y.numpy()
        pred, found_score = (t.numpy() for t in decide(out, task.known_kind, config["threshold"]))
        found = (
            metrics.regression(y, pred)
            if task.known_kind == "regression"
            else metrics.classification(y, pred, found_score, classes)
        )
        results[split] = {"loss": loss_fn(out, data.y).item(), **found}
        results[split] |= meta.get("split_metrics", {}).get(split, {})  # e.g. unseen categories, OOV rate
    y = y if task.known_kind == "regression" else y.astype(int)
    return Scored(splits[-1], data.x, ids.numpy(), y, out, pred, found_score, results)


def curves_table(history: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The curves as `dvc plots` draws them (.dvc/plots/curves.json): a row per epoch, split and
    metric."""
    long = [
        pd.DataFrame({"epoch": frame["step"] + 1, "split": split, "metric": name, "value": frame[split]})
        for name, frame in history.items()
        for split in ("train", "val")
    ]
    return pd.concat(long, ignore_index=True)


def draw(
    task: Task, model: torch.nn.Module, config: dict, classes: tuple, s: Scored, plots: Path, reports: Path
) -> None:
    """What `dvc plots` shows (plots/: the curves' data, the figures of the results) and the
    model card's curves (reports/); the task's own report (e.g. NSL-KDD's recall per attack)
    adds its subsets to `s.results` and its tables to reports/."""
    title = f"{task.name} ({s.split})"
    history = curves(task)
    curves_table(history).to_csv(plots / "curves.csv", index=False, float_format="%.9g")
    figures.curves(history, reports / "curves.png", task.name)
    if task.known_kind == "regression":
        figures.predicted_vs_actual(s.y, s.pred, plots / "predicted_vs_actual.png", title)
    else:
        figures.confusion(s.y, s.pred, classes, plots / "confusion.png", title)
    if task.known_kind == "binary":
        roc = metrics.roc_points(s.y, s.score)
        figures.roc(roc["fpr"], roc["tpr"], s.results[s.split]["roc_auc"], plots / "roc.png", title)
    if task.is_image and (wrong := np.flatnonzero(s.pred != s.y)[:32]).size:
        captions = [f"{classes[s.y[i]]} as {classes[s.pred[i]]}" for i in wrong]
        figures.image_grid(s.x[wrong].numpy(), captions, plots / "misclassified.png", f"{title}: errors")
    if task.is_image and config["name"] == "linear":  # "the weights look like digits"
        layer = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
        weights = layer.weight.detach().numpy().reshape(len(classes), *(task.image_shape or ()))
        figures.image_grid(weights, list(classes), plots / "weights.png", f"{task.name}: weights per class")
    if task.report is not None:
        rows = read_split(task, s.split).loc[s.ids, list(task.extras)]
        subsets, tables = task.report(rows, s.y, s.pred, s.score)
        s.results |= subsets
        for name, table in tables.items():
            table.to_csv(reports / f"{name}.csv", index=False, float_format="%.6g")
            figures.recall_bars(table, plots / f"{name}.png", f"{title}: recall per {table.columns[0]}")


def evaluate(task: Task, params: Params) -> None:
    saved, model = model_file.load(paths.model(task.name), task.name)
    config = saved["config"]
    meta = read_json(paths.features(task.name) / "meta.json")
    task = task.described(meta)
    classes = tuple(meta["classes"])
    s = score(task, model, config, meta)
    with atomic_path(paths.evaluation(task.name)) as evaluation:
        plots, reports = evaluation / "plots", evaluation / "reports"
        plots.mkdir(parents=True)
        reports.mkdir()
        table = predictions_table(s.ids.tolist(), s.out, task.known_kind, list(classes), config["threshold"])
        table.to_csv(reports / "predictions.csv", index=False, float_format="%.9g")
        draw(task, model, config, classes, s, plots, reports)
        details = metrics.rounded({
            "model": {"name": config["name"], "parameters": sum(p.numel() for p in model.parameters())},
            "metrics": s.results,
            "sources": read_json(paths.raw(task.name) / SOURCES_FILE),
            "training": read_json(paths.live(task.name) / "metrics.json"),
        })  # fmt: skip
        headline = metrics.rounded(metrics.headline(task.known_kind, s.results, s.split))
        write_json(reports / "details.json", details)
        settings = {f"model.{k}": v for k, v in config.items() if k not in ("normalize", "n_in", "n_out")}
        settings |= paths.settings("evaluate", task.name)["train"]
        made = [  # the card's links: it lies in reports/T, beside the curves; the rest is in plots/T
            name if (reports / name).exists() else f"../../{paths.plots(task.name).as_posix()}/{name}"
            for name in model_card.FIGURES
            if (reports / name).exists() or (plots / name).exists()
        ]
        (reports / "README.md").write_text(model_card.render(task, details, headline, settings, meta["rows"], made))
        write_json(evaluation / "metrics.json", headline)
