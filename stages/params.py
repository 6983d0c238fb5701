"""Check the whole of params.yaml and write each task's effective training settings.

Every other stage depends on its mark (reprolab/core/paths.py: params_checked), so it runs
first in any `dvc repro`, whole or of one stage, and what cannot run is refused before DVC
removes any stage's outputs: a device this machine lacks among it.

Each task's train stage depends on its file here rather than on the global
`train` block, so a default that a task overrides does not re-run that task.
"""

from __future__ import annotations

import argparse

from reprolab.cli import guarded, logged
from reprolab.core import params, paths
from reprolab.core.files import write_json, write_text
from reprolab.data import tasks
from reprolab.learning import models


def main() -> None:
    checked = params.load(tasks.every(), complete=True, models=models.entries())
    if checked.device in ("cuda", "mps"):  # torch only for a device named: auto and cpu always run
        from reprolab.core.runtime import pick_device

        pick_device(checked.device, checked.reproducible)
    for name in tasks.NAMES:
        write_json(paths.train_params(name), checked.train_for(name).model_dump())
    write_text(paths.params_checked(), "params.yaml passed its check (stages/params.py)\n")


if __name__ == "__main__":
    argparse.ArgumentParser(prog="python -m stages.params", description=__doc__).parse_args()
    guarded("params", logged("params", main))
