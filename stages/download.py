"""Fetch (or generate) a task's raw files, verified against their pinned checksums
or a mirror's SHA256SUMS."""

from __future__ import annotations

from reprolab import paths, sources
from reprolab.cli import run
from reprolab.files import atomic_path
from reprolab.params import Params
from reprolab.tasks.base import Task


def download(task: Task, params: Params) -> None:
    with atomic_path(paths.raw(task.name)) as raw:
        raw.mkdir()
        sources.download(task, params.task(task.name).source, raw)


if __name__ == "__main__":
    run(download)
