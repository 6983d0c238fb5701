"""What the run cache saves: a train stage run from nothing against the same configuration
restored from DVC's run cache, and the latency of a no-op `dvc repro` and `dvc status`, here
and in a clone at a base revision (before/after as ratios).

    python -m bench.runcache [--base REV] [TASK...]     (part of make bench; default: main; nslkdd mnist)

Needs the pipeline run here first (`dvc repro`: the features in the cache). Works in a clone
of this repository in a temporary folder that shares this one's cache (`cache.dir`): per
task, `dvc repro --force --no-run-cache --single-item train@T` trains from nothing (the
lock alone would let DVC check the outputs out of the cache), then, its
outputs and dvc.lock removed, `dvc repro --single-item train@T` restores the same
configuration. Printed: both times and their ratio (restored/run). The latencies: the base
revision checked out in a clone sharing this cache (`dvc checkout`: the same outputs), each
command timed five times in both, alternately, the median of each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("nslkdd", "mnist")


def dvc(repo: Path, *args: str) -> tuple[float, str]:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    result = subprocess.run(["dvc", *args], cwd=repo, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"error: bench.runcache: dvc {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
    return time.perf_counter() - started, result.stdout


def latencies(base: str) -> None:
    """A no-op `dvc status` and `dvc repro` here and at `base`, on the same outputs."""
    with tempfile.TemporaryDirectory(prefix="reprolab-latency-") as tmp:
        other = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(other)], check=True)
        subprocess.run(["git", "checkout", "-q", base], cwd=other, check=True)
        dvc(other, "config", "--local", "cache.dir", str(ROOT / ".dvc/cache"))
        dvc(other, "checkout", "-q")
        for args in (("status", "-q"), ("repro", "-q")):
            times: dict[Path, list[float]] = {other: [], ROOT: []}
            for _ in range(5):
                for repo in times:
                    times[repo].append(dvc(repo, *args)[0])
            then, now = statistics.median(times[other]), statistics.median(times[ROOT])
            print(f"dvc {args[0]} (nothing to do, all stages): {base} {then:.2f} s, here {now:.2f} s: {now / then:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.runcache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="the revision whose latency to compare (default: main)")
    parser.add_argument("tasks", nargs="*", default=list(TASKS))
    args = parser.parse_args()
    latencies(args.base)
    tasks = args.tasks
    with tempfile.TemporaryDirectory(prefix="reprolab-runcache-") as tmp:
        repo = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
        dvc(repo, "config", "--local", "cache.dir", str(ROOT / ".dvc/cache"))
        for task in tasks:
            subprocess.run(["git", "checkout", "-q", "--", "dvc.lock"], cwd=repo, check=True)  # every stage's entry
            dvc(repo, "checkout", "-q", f"data/features/{task}")
            run, out = dvc(repo, "repro", "--force", "--no-run-cache", "--single-item", f"train@{task}")
            assert f"Running stage 'train@{task}'" in out, out
            for path in (repo / f"models/{task}.pt", repo / "dvc.lock"):
                path.unlink()
            shutil.rmtree(repo / f"data/live/{task}")
            restored, out = dvc(repo, "repro", "--single-item", f"train@{task}")
            assert f"Stage 'train@{task}' is cached" in out, out
            print(f"train@{task}: run {run:.1f} s, restored {restored:.1f} s: restored/run {restored / run:.3f}")


if __name__ == "__main__":
    main()
