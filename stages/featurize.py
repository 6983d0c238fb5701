"""Turn split rows into tensors: standardize and one-hot, fit on the training split only."""

from __future__ import annotations

import pandas as pd
import torch

from reprolab import paths
from reprolab.cli import run
from reprolab.features.tabular import TabularEncoder
from reprolab.io import UserError, atomic_path, write_json
from reprolab.params import Params
from reprolab.tasks.base import TARGET, Task
from reprolab.training import n_outputs


def read_split(task: Task, split: str) -> pd.DataFrame:
    """One split's rows as written by the split stage, indexed by row id."""
    return pd.read_csv(paths.split(task.name) / f"{split}.csv", index_col="id")


def featurize(task: Task, params: Params) -> None:
    config = params.task(task.name).features
    unknown = sorted(set(config.drop) - set(task.features))
    if unknown:
        raise UserError(f"params.yaml: tasks.{task.name}.features.drop: unknown column {unknown[0]!r}")
    kept = [c for c in task.numeric if c not in config.drop], [c for c in task.categorical if c not in config.drop]
    if not any(kept):
        raise UserError(f"params.yaml: tasks.{task.name}.features.drop: no feature column is left")
    splits = [s for s in paths.SPLITS if (paths.split(task.name) / f"{s}.csv").exists()]
    rows = {split: read_split(task, split) for split in splits}
    encoder = TabularEncoder.fit(rows["train"], *kept, standardize=config.standardize)

    target_dtype = torch.long if task.kind == "multiclass" else torch.float32
    meta = {
        "kind": task.kind,
        "classes": list(task.classes),
        "n_features": len(encoder.feature_names),
        "n_outputs": n_outputs(task.kind, len(task.classes)),
        "feature_names": encoder.feature_names,
        "encoder": encoder.to_dict(),
        "rows": {},
        "unseen_categories": {},
    }
    with atomic_path(paths.features(task.name)) as out:
        out.mkdir()
        for split, frame in rows.items():
            x, unseen = encoder.transform(frame)
            tensors = {
                "x": torch.from_numpy(x),
                "y": torch.tensor(frame[TARGET].to_numpy(), dtype=target_dtype),
                "id": torch.tensor(frame.index.to_numpy()),
            }
            torch.save(tensors, out / f"{split}.pt")
            meta["rows"][split] = len(frame)
            meta["unseen_categories"][split] = unseen
        write_json(out / "meta.json", meta)


if __name__ == "__main__":
    run(featurize)
