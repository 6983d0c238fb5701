"""Check the whole of params.yaml and write each task's effective training settings.

It runs before every other stage (dvc.yaml lists it first), so what cannot run here is
refused before any stage works: a device this machine lacks among it.

Each task's train stage depends on its file here rather than on the global
`train` block, so a default that a task overrides does not re-run that task.
"""

from __future__ import annotations

import argparse

from reprolab import params, paths, tasks
from reprolab.cli import guarded, logged
from reprolab.files import write_json


def main() -> None:
    checked = params.load(tasks.every(), complete=True)
    if checked.device in ("cuda", "mps"):  # torch only for a device named: auto and cpu always run
        from reprolab.runtime import pick_device

        pick_device(checked.device, checked.reproducible)
    for name in tasks.NAMES:
        write_json(paths.train_params(name), checked.train_for(name).model_dump())


if __name__ == "__main__":
    argparse.ArgumentParser(prog="python -m stages.params", description=__doc__).parse_args()
    guarded("params", logged("params", main))
