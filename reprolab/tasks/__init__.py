"""The task registry: one module per task, one entry here (and in dvc.yaml's list)."""

from __future__ import annotations

from reprolab.io import UserError
from reprolab.tasks import advertising, blobs, cifar10, mnist, news, nslkdd
from reprolab.tasks.base import Task

TASKS: dict[str, Task] = {
    module.TASK.name: module.TASK for module in (blobs, advertising, nslkdd, mnist, cifar10, news)
}


def get(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UserError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None
