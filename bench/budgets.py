"""cifar10's validation accuracy against its training time: the default recipe of params.yaml
(model, optimizer, schedule, augmentation, seed, threads, kernels) at a quarter, half and
the whole of its epochs, each a run of its own (the one-cycle schedule spans the budget).

Validation rows only: a budget is a choice, and choices are made on validation. It reads
the featurized splits of `dvc repro` (data/features/cifar10/) and writes the points to
docs/budgets.tsv and the curve to docs/budgets.png (the README shows it).
Run: python -m bench.budgets  (about twice the default's training time)
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from reprolab.core import kernels, params, paths
from reprolab.core.files import read_json
from reprolab.core.runtime import seed_everything
from reprolab.data import tasks
from reprolab.evaluation import figures
from reprolab.learning import models
from reprolab.learning.inference import correct, load_split, outputs
from reprolab.learning.loop import fit

TASK = "cifar10"
SHARES = (0.25, 0.5, 1.0)
OUT = Path("docs/budgets")


def run(epochs: int) -> tuple[float, float]:
    """(training seconds, validation accuracy) of the default recipe trained for `epochs`."""
    checked = params.load({TASK: tasks.get(TASK)}, models=models.entries())
    cfg = checked.train_for(TASK).model_copy(update={"epochs": epochs})
    model_params, features = checked.task(TASK).model.model_dump(), paths.features(TASK)
    reads = models.entry(model_params["name"]).reads
    train, _ = load_split(features / "train.npz", reads)
    val, _ = load_split(features / "val.npz", reads)
    generator = seed_everything(checked.seed)
    start = time.perf_counter()
    _, model = models.from_features(model_params, read_json(features / "meta.json"), train.x, features)
    fit(model, "multiclass", train, val, cfg, generator)
    seconds = time.perf_counter() - start
    return seconds, correct(outputs(model, val.x, "multiclass"), val.y, "multiclass").item() / len(val)


def main() -> None:
    checked = params.load({TASK: tasks.get(TASK)})
    cfg = checked.train_for(TASK)
    kernels.use_threads(cfg.threads)
    default = cfg.epochs
    budgets = sorted({max(1, round(default * share)) for share in SHARES})
    rows, seconds_of = [], {}
    print(f"{TASK}: {checked.task(TASK).model.name}, {kernels.fingerprint()}")
    print(f"{'epochs':>6} {'train s':>8} {'val accuracy':>13} {'time / default':>15}")
    for epochs in reversed(budgets):  # the default first: the ratios are against it
        seconds, accuracy = run(epochs)
        seconds_of[epochs] = seconds
        rows.append({"epochs": epochs, "minutes": round(seconds / 60, 2), "val_accuracy": round(accuracy, 4)})
        print(f"{epochs:>6} {seconds:>8.0f} {accuracy:>13.4f} {seconds / seconds_of[default]:>15.2f}", flush=True)
    points = pd.DataFrame(rows).sort_values("epochs")
    points.to_csv(OUT.with_suffix(".tsv"), sep="\t", index=False)
    figures.budgets(points, default, TASK, OUT.with_suffix(".png"))


if __name__ == "__main__":
    main()
