"""How long a stage process takes to start: from its launch to the moment its stage function
is called (its first work), for every stage of a full `dvc repro`, here and at a base revision
(before/after as ratios), beside a bare `python -c "import torch"` measured in the same run.

    python -m bench.startup [--base REV]     (part of make bench; default base: main)

The base revision's code is exported with `git archive` into a temporary folder and timed there.
Each stage runs its real script with the stage function replaced by one that prints the time
and exits, so nothing is read or written: the start-up alone (interpreter, imports, params
check, kernel pin). The first stage (plan, or params before it) is timed whole: its work is
what it is there for. Printed: per stage the seconds here, at the base, their ratio, and the
median over all stages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("download", "split", "featurize", "train", "evaluate", "publish")
FIRST_WORK = """
import sys, time
import stages  # the package's kernel pin first, as in a real stage process
import reprolab.cli as cli
real = cli.run
def run(stage, **options):
    def first_work(task, params):
        print(time.time())
        sys.exit(0)
    first_work.__name__ = stage.__name__
    return real(first_work, **options)
cli.run = run
import runpy
sys.argv = [sys.argv[1], sys.argv[2]]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


def started(tree: Path, *command: str) -> float:
    """Seconds from launch to the printed time (or to the end, for a whole run)."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    begun = time.time()
    result = subprocess.run([sys.executable, *command], cwd=tree, capture_output=True, text=True, env=env)
    ended = time.time()
    if result.returncode != 0:
        sys.exit(f"error: bench.startup: {' '.join(command)} in {tree}: {result.stderr.strip().splitlines()[-1]}")
    printed = result.stdout.strip().splitlines()
    return (float(printed[-1]) if printed and command[0] == "-c" else ended) - begun


def timings(tree: Path, tasks: list[str]) -> dict[str, float]:
    first = "plan" if (tree / "stages/plan.py").is_file() else "params"
    found = {first: started(tree, "-m", f"stages.{first}")}
    for stage in STAGES:
        for task in tasks:
            found[f"{stage}@{task}"] = started(tree, "-c", FIRST_WORK, f"stages.{stage}", task)
    return found


def export(rev: str, folder: Path) -> Path:
    archive = subprocess.run(["git", "archive", rev, "reprolab", "stages", "params.yaml"], cwd=ROOT,
                             capture_output=True, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="the revision to compare with (default: main)")
    args = parser.parse_args()
    from reprolab.data.tasks import NAMES

    torch = statistics.median(started(ROOT, "-c", "import time, torch; print(time.time())") for _ in range(3))
    with tempfile.TemporaryDirectory(prefix="reprolab-startup-") as tmp:
        before = timings(export(args.base, Path(tmp)), list(NAMES))
    after = timings(ROOT, list(NAMES))
    print(f"bare python -c 'import torch': {torch:.2f} s\n")
    print(f"{'stage':24} {args.base:>8} {'here':>8} {'here/base':>10} {'here/torch':>11}")
    for name, seconds in after.items():
        base = before.get(name, before.get("params") if name == "plan" else None)
        ratio = f"{seconds / base:10.2f}" if base else f"{'':10}"
        print(f"{name:24} {base or 0:8.2f} {seconds:8.2f} {ratio} {seconds / torch:11.2f}")
    b, a = statistics.median(before.values()), statistics.median(after.values())
    print(f"\nmedian over {len(after)} stages: {args.base} {b:.2f} s, here {a:.2f} s: here/base {a / b:.2f}")


if __name__ == "__main__":
    main()
