"""Check params.yaml and write each task's effective training settings.

Each task's train stage depends on its file here rather than on the global
`train` block, so a default that a task overrides does not re-run that task.
"""

from __future__ import annotations

from reprolab import params, paths
from reprolab.cli import guarded
from reprolab.io import write_json
from reprolab.tasks import TASKS


def main() -> None:
    checked = params.load()
    for name in TASKS:
        write_json(paths.train_params(name), checked.train_for(name).model_dump())


if __name__ == "__main__":
    guarded("params", main)
