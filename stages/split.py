"""Split a task's rows into train, validation and (unless the task brings its own) test."""

from __future__ import annotations

from reprolab import paths
from reprolab.cli import run
from reprolab.io import atomic_path
from reprolab.params import Params
from reprolab.splitting import split_rows
from reprolab.tasks.base import Task


def split(task: Task, params: Params) -> None:
    parts = split_rows(task.read(paths.raw(task.name)), params.task(task.name).split)
    with atomic_path(paths.split(task.name)) as out:
        out.mkdir()
        for name, rows in parts.items():
            rows.to_csv(out / f"{name}.csv")


if __name__ == "__main__":
    run(split)
