"""Split a task's rows into train, validation and (unless the task brings its own) test.

Tables are written as CSV; images as uint8 arrays (`.npz`) with their labels and ids.
"""

from __future__ import annotations

import numpy as np

from reprolab import paths
from reprolab.cli import run
from reprolab.files import atomic_path
from reprolab.grouping import split_groups
from reprolab.params import Params
from reprolab.splitting import split_rows
from reprolab.tasks.base import Task


def split(task: Task, params: Params) -> None:
    config = params.task(task.name).split
    tables = task.read(paths.raw(task.name))
    if task.is_image:
        parts = split_rows({name: images.as_rows() for name, images in tables.items()}, config)
    else:
        if task.select is not None:
            tables = {name: task.select(rows, config) for name, rows in tables.items()}
        group = getattr(config, "group", "none")  # a field no two parts share, where a task's split names one
        if group == "none":
            parts = split_rows(tables, config, task.group)
        else:
            parts = split_groups(tables, config, group, task.classes)
    with atomic_path(paths.split(task.name)) as out:
        out.mkdir()
        for name, rows in parts.items():
            if not task.is_image:
                rows.to_csv(out / f"{name}.csv")
                continue
            images = tables["test" if name == "test" and task.predefined_test else next(iter(tables))]
            ids = rows.index.to_numpy()
            np.savez(out / f"{name}.npz", pixels=images.pixels[ids], labels=images.labels[ids], ids=ids)


if __name__ == "__main__":
    run(split)
