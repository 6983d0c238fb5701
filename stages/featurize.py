"""Turn split rows into tensors, with every statistic fit on the training split only.

The work is the task's modality's (reprolab/features/table.py, image.py or text.py),
imported for that task alone, so each featurize stage depends on its own module.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch

from reprolab import paths
from reprolab.cli import run
from reprolab.files import atomic_path, save_tensors, write_json
from reprolab.params import Params
from reprolab.tasks.base import Task


def featurize(task: Task, params: Params) -> None:
    modality = importlib.import_module(f"reprolab.features.{task.modality}")
    target_dtype = torch.long if task.kind == "multiclass" else torch.float32
    with atomic_path(paths.features(task.name)) as out:
        out.mkdir()
        arrays, meta = modality.featurize(task, params.task(task.name).features, params.seed, out)
        meta |= {
            "kind": task.kind,
            "classes": list(task.classes),
            "n_outputs": task.n_outputs,
            "rows": {split: len(a["y"]) for split, a in arrays.items()},
        }
        for split, a in arrays.items():
            tensors = {key: torch.from_numpy(np.array(value)) for key, value in a.items()}  # copies: writable
            tensors["y"] = tensors["y"].to(target_dtype)
            save_tensors(out / f"{split}.pt", tensors)
        write_json(out / "meta.json", meta)


if __name__ == "__main__":
    run(featurize)
