"""Images: kept as uint8; the per-channel statistics of the training images go into
meta.json, and the model normalises with them on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reprolab.core import paths
from reprolab.core.errors import UserError
from reprolab.core.params import FeatureParams
from reprolab.data.features import divisor
from reprolab.data.splitting import present_splits
from reprolab.data.tasks.base import Task


def channel_stats(pixels: np.ndarray, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W), on a 0..1 scale."""
    total = np.zeros(pixels.shape[1])
    squares = np.zeros(pixels.shape[1])
    for start in range(0, len(pixels), chunk):
        block = pixels[start : start + chunk].astype(np.float64) / 255.0
        total += block.sum(axis=(0, 2, 3))
        squares += (block**2).sum(axis=(0, 2, 3))
    count = len(pixels) * pixels.shape[2] * pixels.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.tolist(), divisor(std).tolist()


def featurize(task: Task, config: FeatureParams, seed: int, out: Path) -> tuple[dict, dict]:
    """({split: arrays}, meta) for an image task."""
    for key in ("drop", "log"):
        if getattr(config, key):
            raise UserError(f"params.yaml: tasks.{task.name}.features.{key}: an image task has no columns")
    arrays = {}
    for split in present_splits(task):
        with np.load(paths.split(task.name) / f"{split}.npz") as data:
            arrays[split] = {"x": data["pixels"], "y": data["labels"], "id": data["ids"]}
    assert task.image_shape is not None  # an image task's
    channels = task.image_shape[0]
    train = arrays["train"]["x"]
    mean, std = channel_stats(train) if config.standardize else ([0.0] * channels, [1.0] * channels)
    return arrays, {"n_features": list(task.image_shape), "normalize": {"mean": mean, "std": std}}
