"""The train stage's work: a task's model built from its features, trained by the loop
(reprolab/learning/loop.py), its per-epoch curves logged with DVCLive, the model file saved.

A checkpoint is written to checkpoints/ after each epoch (git-ignored, not a DVC
output): re-running the stage after an interruption resumes from it and ends as
an uninterrupted run would. What a killed run left half-written there is removed when
any train stage next starts (`make clean-checkpoints` removes the checkpoints too).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil

import torch
import torch.distributed as dist
from dvclive import Live
from torch.nn.parallel import DistributedDataParallel

from reprolab.core import kernels, paths
from reprolab.core.files import read_json, sha256_of, sweep
from reprolab.core.params import PARAMS_FILE, Params, TrainParams, check_task
from reprolab.core.runtime import pick_device, seed_everything
from reprolab.data.tasks.base import Task
from reprolab.learning import model_file, models
from reprolab.learning.inference import load_split
from reprolab.learning.loop import Epoch, fit


class PipelineLive(Live):
    """DVCLive in a stage of this pipeline, which declares its metrics and plots in dvc.yaml
    itself and saves no experiment of its own: no DVC repository is opened (0.3 s a train
    stage; and outside a DVC project, DVCLive would make one at the git root)."""

    def _init_dvc(self) -> None:
        self._dvc_file = self._init_dvc_file()


def log_epoch(live: Live, epoch: Epoch) -> None:
    # Setting the step rather than calling next_step(): next_step() re-reads every curve
    # for DVC Studio each epoch, quadratic in the epochs. The TSVs still grow live.
    live.step = epoch.epoch - 1
    for split in ("train", "val"):
        live.log_metric(f"{split}/loss", getattr(epoch, f"{split}_loss"))
        if epoch.train_acc is not None:
            live.log_metric(f"{split}/accuracy", getattr(epoch, f"{split}_acc"))
    live.log_metric("lr", epoch.lr, plot=False)


def launch(task: Task, processes: int) -> None:
    """Run this stage again as `processes` data-parallel processes under torchrun."""
    from torch.distributed.run import main as torchrun

    torchrun(["--standalone", f"--nproc-per-node={processes}", "-m", "stages.train", task.name])


def train(task: Task, params: Params) -> None:
    cfg = TrainParams.model_validate(paths.settings("train", task.name)["train"])
    if cfg.processes > 1 and "LOCAL_RANK" not in os.environ:
        return launch(task, cfg.processes)
    meta = read_json(paths.features(task.name) / "meta.json")
    task = task.described(meta)  # what its rows are; a task of your own's kind is known from here
    check_task(params, task.name, task, models.entries(), PARAMS_FILE)
    checkpoint = paths.checkpoint(task.name)
    if checkpoint.parent.is_dir():
        sweep(checkpoint.parent)  # every task's temporaries whose writer was killed
    generator = seed_everything(params.seed)
    device = pick_device(params.device, params.reproducible)
    if cfg.processes > 1:  # a process of torchrun's: gloo on the CPU, nccl between GPUs
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if cfg.processes > 1 else 0
    if rank == 0:  # where this record is made, for the log (the record itself names no machine)
        gpu = f"; {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
        logging.getLogger("train").info("%s%s", kernels.fingerprint(), gpu)
    features = paths.features(task.name)
    model_params = params.task(task.name).model.model_dump()
    reads = models.entry(model_params["name"]).reads
    train_split, _ = load_split(features / "train.npz", reads)
    val_split, _ = load_split(features / "val.npz", reads)
    config, model = models.from_features(model_params, meta, train_split.x, features)
    model = model.to(device)
    # A checkpoint is resumed only by a run of the same settings on the same data. The device
    # type, not its index: every data-parallel process must compute the same fingerprint.
    settings = json.dumps([cfg.model_dump(), config, params.seed, device.type], sort_keys=True)
    data = "".join(sha256_of(features / f"{split}.npz") for split in ("train", "val"))
    fingerprint = hashlib.sha256((settings + data).encode()).hexdigest()

    if cfg.processes > 1:
        model = DistributedDataParallel(model)
    train_split, val_split = train_split.to(device), val_split.to(device)
    # The accuracy curves decide as the model will: at its threshold (binary tasks).
    options = {"checkpoint": checkpoint, "fingerprint": fingerprint, "threshold": config["threshold"]}
    if rank > 0:  # only the first process writes curves, checkpoints and the model
        fit(model, task.known_kind, train_split, val_split, cfg, generator, **options)
        dist.barrier()  # torn down only when the first process is done too (else, under load, an abort)
        dist.destroy_process_group()
        return

    live_dir = paths.live(task.name)  # cached: publish copies it to dvclive/T
    try:
        with PipelineLive(dir=str(live_dir), dvcyaml=None, save_dvc_exp=False) as live:
            result = fit(
                model, task.known_kind, train_split, val_split, cfg, generator,
                on_epoch=lambda epoch: log_epoch(live, epoch), **options,
            )  # fmt: skip
            # What decides the bits, and nothing that differs between two machines of one kind:
            # the device (a GPU by name: a committed record is a CPU one), the kernels' mode, the
            # threads as set (not what 0 resolves to); wall times go to logs/runs.jsonl.
            live.summary.update(
                best_epoch=result.best_epoch, epochs=len(result.history), stopped_early=result.stopped_early,
                device=torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
                reproducible=kernels.pinned(),
                threads=cfg.threads, processes=cfg.processes,
            )  # fmt: skip
    except BaseException:
        shutil.rmtree(live_dir, ignore_errors=True)  # no half-written curves; the checkpoint stays
        raise

    if cfg.processes > 1:
        model = model.module
        dist.barrier()
        dist.destroy_process_group()
    model_file.save(paths.model(task.name), model_file.bundle(task, config, model, meta, features))
    checkpoint.unlink(missing_ok=True)  # finished: nothing to resume
