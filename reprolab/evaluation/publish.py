"""The publish stage's work: copy a task's small results out of DVC's cache to where git keeps them.

train and evaluate write only cached outputs (data/live/T, data/evaluation/T), so DVC's run
cache restores them when a configuration comes back; DVC keeps no run cache for a stage with
an uncached output. This stage holds the uncached ones: the curves and the run's summary
(dvclive/T), the headline metrics (metrics/T.json), the plot data (plots/T) and the reports
and model card (reports/T), which git commits so that a fresh clone shows them without a
`dvc pull`. It copies bytes, so it costs nothing to run again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from reprolab.core import paths
from reprolab.core.files import atomic_path
from reprolab.core.params import Params
from reprolab.data.tasks.base import Task


def publish(task: Task, params: Params) -> None:
    evaluation = paths.evaluation(task.name)
    copies = {
        paths.live(task.name): paths.curves(task.name),
        evaluation / "plots": paths.plots(task.name),
        evaluation / "reports": paths.reports(task.name),
        evaluation / "metrics.json": paths.metrics(task.name),
    }
    for source, target in copies.items():
        with atomic_path(target) as tmp:
            copy(source, tmp)


def copy(source: Path, target: Path) -> None:
    """A file, or a folder file by file: the first failed write says which (copytree gathers
    every failure into one list)."""
    if not source.is_dir():
        shutil.copyfile(source, target)
        return
    target.mkdir()
    for path in sorted(source.rglob("*")):
        if path.is_dir():
            (target / path.relative_to(source)).mkdir()
        else:
            shutil.copyfile(path, target / path.relative_to(source))
