"""Turn split rows into tensors, with every statistic fit on the training split only.

Tables: numeric columns standardized, categorical ones one-hot encoded. Images:
kept as uint8; the per-channel mean and deviation of the training images go into
meta.json, and the model normalises with them on the fly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from reprolab import paths
from reprolab.cli import run
from reprolab.features.images import channel_stats
from reprolab.features.tabular import TabularEncoder
from reprolab.io import UserError, atomic_path, write_json
from reprolab.params import FeatureParams, Params
from reprolab.tasks.base import TARGET, Task
from reprolab.training import n_outputs


def read_split(task: Task, split: str) -> pd.DataFrame:
    """One split's rows as written by the split stage, indexed by row id."""
    return pd.read_csv(paths.split(task.name) / f"{split}.csv", index_col="id")


def present_splits(task: Task) -> list[str]:
    return [s for s in paths.SPLITS if any(paths.split(task.name).glob(f"{s}.*"))]


def tabular(task: Task, config: FeatureParams) -> tuple[dict, dict]:
    """({split: (x, y, ids)}, meta) for a table task."""
    unknown = sorted(set(config.drop) - set(task.features))
    if unknown:
        raise UserError(f"params.yaml: tasks.{task.name}.features.drop: unknown column {unknown[0]!r}")
    kept = [c for c in task.numeric if c not in config.drop], [c for c in task.categorical if c not in config.drop]
    if not any(kept):
        raise UserError(f"params.yaml: tasks.{task.name}.features.drop: no feature column is left")
    rows = {split: read_split(task, split) for split in present_splits(task)}
    encoder = TabularEncoder.fit(rows["train"], *kept, standardize=config.standardize)
    arrays, unseen = {}, {}
    for split, frame in rows.items():
        x, unseen[split] = encoder.transform(frame)
        arrays[split] = (x, frame[TARGET].to_numpy(), frame.index.to_numpy())
    meta = {
        "n_features": len(encoder.feature_names),
        "feature_names": encoder.feature_names,
        "encoder": encoder.to_dict(),
        "unseen_categories": unseen,
    }
    return arrays, meta


def images(task: Task, config: FeatureParams) -> tuple[dict, dict]:
    """({split: (pixels, labels, ids)}, meta) for an image task."""
    if config.drop:
        raise UserError(f"params.yaml: tasks.{task.name}.features.drop: an image task has no columns to drop")
    arrays = {}
    for split in present_splits(task):
        with np.load(paths.split(task.name) / f"{split}.npz") as data:
            arrays[split] = (data["pixels"], data["labels"], data["ids"])
    channels = task.image_shape[0]
    mean, std = channel_stats(arrays["train"][0]) if config.standardize else ([0.0] * channels, [1.0] * channels)
    meta = {"n_features": list(task.image_shape), "normalize": {"mean": mean, "std": std}, "unseen_categories": {}}
    return arrays, meta


def featurize(task: Task, params: Params) -> None:
    arrays, meta = (images if task.is_image else tabular)(task, params.task(task.name).features)
    target_dtype = torch.long if task.kind == "multiclass" else torch.float32
    meta |= {
        "kind": task.kind,
        "classes": list(task.classes),
        "n_outputs": n_outputs(task.kind, len(task.classes)),
        "rows": {split: len(y) for split, (_, y, _) in arrays.items()},
    }
    with atomic_path(paths.features(task.name)) as out:
        out.mkdir()
        for split, (x, y, ids) in arrays.items():
            tensors = {"x": torch.from_numpy(x), "y": torch.tensor(y, dtype=target_dtype), "id": torch.tensor(ids)}
            torch.save(tensors, out / f"{split}.pt")
        write_json(out / "meta.json", meta)


if __name__ == "__main__":
    run(featurize)
