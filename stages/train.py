"""Train a task's model; log per-epoch curves with DVCLive; save the state_dict."""

from __future__ import annotations

import shutil

import torch

from dvclive import Live
from reprolab import paths
from reprolab.cli import run
from reprolab.io import atomic_path, read_json
from reprolab.models import build
from reprolab.params import Params, TrainParams
from reprolab.runtime import pick_device, seed_everything
from reprolab.tasks.base import Task
from reprolab.training import Epoch, fit, load_split


def log_epoch(live: Live, epoch: Epoch) -> None:
    # Setting the step rather than calling next_step(): next_step() re-reads every curve
    # for DVC Studio each epoch, quadratic in the epochs. The TSVs still grow live.
    live.step = epoch.epoch - 1
    for split in ("train", "val"):
        live.log_metric(f"{split}/loss", getattr(epoch, f"{split}_loss"))
        if epoch.train_acc is not None:
            live.log_metric(f"{split}/acc", getattr(epoch, f"{split}_acc"))
    live.log_metric("lr", epoch.lr, plot=False)


def train(task: Task, params: Params) -> None:
    cfg = TrainParams.model_validate(read_json(paths.train_params(task.name)))
    meta = read_json(paths.features(task.name) / "meta.json")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    generator = seed_everything(params.seed)
    device = pick_device(params.device)
    train_split, _ = load_split(paths.features(task.name) / "train.pt")
    val_split, _ = load_split(paths.features(task.name) / "val.pt")
    config = {**params.task(task.name).model.model_dump(), "n_in": meta["n_features"], "n_out": meta["n_outputs"]}
    model = build(config).to(device)

    live_dir = paths.live(task.name)
    try:
        with Live(dir=str(live_dir), dvcyaml=None, save_dvc_exp=False) as live:
            result = fit(
                model,
                task.kind,
                train_split.to(device),
                val_split.to(device),
                cfg,
                generator,
                on_epoch=lambda epoch: log_epoch(live, epoch),
            )
            live.summary.update(
                best_epoch=result.best_epoch, epochs=len(result.history), stopped_early=result.stopped_early
            )
    except BaseException:
        shutil.rmtree(live_dir, ignore_errors=True)  # no half-written curves
        raise

    state = {name: tensor.cpu() for name, tensor in model.state_dict().items()}
    with atomic_path(paths.model(task.name)) as tmp:
        torch.save({"config": config, "kind": task.kind, "state_dict": state}, tmp)


if __name__ == "__main__":
    run(train)
