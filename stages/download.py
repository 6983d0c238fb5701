"""Fetch (or generate) a task's raw files, verified against their pinned checksums
or a mirror's SHA256SUMS."""

from __future__ import annotations

from reprolab.cli import run
from reprolab.core import paths
from reprolab.core.files import atomic_path
from reprolab.core.params import Params
from reprolab.data import sources
from reprolab.data.tasks.base import Task


def download(task: Task, params: Params) -> None:
    with atomic_path(paths.raw(task.name)) as raw:
        raw.mkdir()
        sources.download(task, params.task(task.name).source, raw)


if __name__ == "__main__":
    run(download)
