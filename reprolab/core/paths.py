"""Where each stage reads and writes, per task (dvc.yaml declares the same paths).

train and evaluate write only into DVC's cache (models/, data/live/, data/evaluation/), so
that the run cache can restore them; publish copies their small results to where git keeps
them (dvclive/, metrics/, plots/, reports/).
"""

from __future__ import annotations

from pathlib import Path

from reprolab.core.files import read_json

SPLITS = ("train", "val", "test")
TEXT_ENCODER = "encoder.npz"  # in a text task's features folder: its fit TextEncoder (data/features/text.py)


def raw(task: str) -> Path:
    return Path("data/raw") / task


def split(task: str) -> Path:
    return Path("data/split") / task


def features(task: str) -> Path:
    return Path("data/features") / task


def plan(stage: str, task: str) -> Path:
    """What a stage runs with for a task (reprolab/plan.py): its settings and its code's
    digests; the stage depends on this file alone for both."""
    return Path("data/plan") / f"{stage}@{task}.json"


def settings(stage: str, task: str) -> dict:
    """The settings a stage takes for a task, from its plan file."""
    return read_json(plan(stage, task))["settings"]


def model(task: str) -> Path:
    return Path("models") / f"{task}.pt"


def live(task: str) -> Path:
    """The train stage's DVCLive log: curves and the run's summary."""
    return Path("data/live") / task


def evaluation(task: str) -> Path:
    """The evaluate stage's results: metrics.json, plots/ (plot data), reports/ (the rest)."""
    return Path("data/evaluation") / task


def curves(task: str) -> Path:
    """Where git keeps the DVCLive log (publish copies it there)."""
    return Path("dvclive") / task


def metrics(task: str) -> Path:
    return Path("metrics") / f"{task}.json"


def plots(task: str) -> Path:
    return Path("plots") / task


def reports(task: str) -> Path:
    return Path("reports") / task


def checkpoint(task: str) -> Path:
    return Path("checkpoints") / f"{task}.pt"
