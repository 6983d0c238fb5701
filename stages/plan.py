"""Check the whole of params.yaml, then write what every stage of every task runs with: its
settings and the digests of its code (reprolab/plan.py), data/plan/<stage>@<task>.json.

Every other stage depends on its plan file, so this stage runs first in any `dvc repro`,
whole or of one stage, and what cannot run is refused before DVC removes any stage's
outputs: a typo anywhere in params.yaml, a device this machine lacks, a module that does
not parse. It depends on every project file byte for byte and runs in a second or two; the
stages after it run only where their plan changed.
"""

from __future__ import annotations

import argparse

from reprolab import plan
from reprolab.cli import guarded, logged


def main() -> None:
    checked = plan.checked_params()
    if checked.device in ("cuda", "mps"):  # torch only for a device named: auto and cpu always run
        from reprolab.core.runtime import pick_device

        pick_device(checked.device, checked.reproducible)
    plan.write(checked)


if __name__ == "__main__":
    argparse.ArgumentParser(prog="python -m stages.plan", description=__doc__).parse_args()
    guarded("plan", logged("plan", main))
