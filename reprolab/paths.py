"""Where each stage reads and writes, per task (dvc.yaml declares the same paths)."""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "val", "test")


def raw(task: str) -> Path:
    return Path("data/raw") / task


def split(task: str) -> Path:
    return Path("data/split") / task


def features(task: str) -> Path:
    return Path("data/features") / task


def train_params(task: str) -> Path:
    return Path("data/params") / f"{task}.json"


def model(task: str) -> Path:
    return Path("models") / f"{task}.pt"


def live(task: str) -> Path:
    return Path("dvclive") / task


def metrics(task: str) -> Path:
    return Path("metrics") / f"{task}.json"


def plots(task: str) -> Path:
    return Path("plots") / task


def reports(task: str) -> Path:
    return Path("reports") / task


def checkpoint(task: str) -> Path:
    return Path("checkpoints") / f"{task}.pt"
