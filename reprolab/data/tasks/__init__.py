"""The task registry: one module per task, its name here (and in dvc.yaml's task map).

A task's module is imported only when that task is asked for, so a stage run for
one task loads (and, in dvc.yaml, depends on) that task's module alone.
"""

from __future__ import annotations

import importlib

from reprolab.core.errors import UserError
from reprolab.data.tasks.base import Task

IMPORTS_BY_NAME = "reprolab.data.tasks.{task}"  # for the plan (reprolab/plan.py)
NAMES = ("blobs", "advertising", "nslkdd", "mnist", "cifar10", "news")


def get(name: str) -> Task:
    if name not in NAMES:
        raise UserError(f"unknown task {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(IMPORTS_BY_NAME.format(task=name)).TASK


def every() -> dict[str, Task]:
    return {name: get(name) for name in NAMES}
