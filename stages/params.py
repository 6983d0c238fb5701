"""Check the whole of params.yaml and write each task's effective training settings.

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
    for name in tasks.NAMES:
        write_json(paths.train_params(name), checked.train_for(name).model_dump())


if __name__ == "__main__":
    argparse.ArgumentParser(prog="python -m stages.params", description=__doc__).parse_args()
    guarded("params", logged("params", main))
