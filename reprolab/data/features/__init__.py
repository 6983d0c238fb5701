"""Feature transforms, one module per modality (table.py, image.py, text.py), each fit on the
training split only; `featurize` is the featurize stage's work. The modality's module is
imported for the task at hand alone, so each featurize stage depends on its own module.
"""

from __future__ import annotations

import importlib

import numpy as np

from reprolab.core import paths
from reprolab.core.files import atomic_path, save_arrays, write_json
from reprolab.core.params import Params
from reprolab.data.splitting import described
from reprolab.data.tasks.base import Task

IMPORTS_BY_NAME = "reprolab.data.features.{modality}"  # for the plan (reprolab/plan.py)


def divisor(std: np.ndarray) -> np.ndarray:
    """What to divide by when standardizing: the deviation, or 1 where a feature is constant."""
    return np.where(std > 0, std, 1.0)


def featurize(task: Task, params: Params) -> None:
    """The featurize stage: every split as arrays, and meta.json: what the rows are (the split
    stage's schema, which the stages after read from here), the shapes and the fit encoders."""
    task = described(task)
    modality = importlib.import_module(IMPORTS_BY_NAME.format(modality=task.modality))
    target_dtype = np.int64 if task.kind == "multiclass" else np.float32
    with atomic_path(paths.features(task.name)) as out:
        out.mkdir()
        arrays, meta = modality.featurize(task, params.task(task.name).features, params.seed, out)
        meta |= task.schema() | {
            "n_outputs": task.n_outputs,
            "rows": {split: len(a["y"]) for split, a in arrays.items()},
        }
        for split, a in arrays.items():
            save_arrays(out / f"{split}.npz", {**a, "y": np.asarray(a["y"]).astype(target_dtype)})
        write_json(out / "meta.json", meta)
