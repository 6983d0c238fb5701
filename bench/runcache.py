"""What the run cache saves: a train stage run from nothing against the same configuration
restored from DVC's run cache, and the latency of a no-op `dvc repro` and `dvc status`.

    python -m bench.runcache [TASK...]     (part of make bench; default: nslkdd mnist)

Needs the pipeline run here first (`dvc repro`: the features in the cache). Works in a clone
of this repository in a temporary folder that shares this one's cache (`cache.dir`): per
task, `dvc repro --force --no-run-cache --single-item train@T` trains from nothing (the
lock alone would let DVC check the outputs out of the cache), then, its
outputs and dvc.lock removed, `dvc repro --single-item train@T` restores the same
configuration. Printed: both times and their ratio (restored/run).
"""

from __future__ import annotations

import os
import shutil
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


def main() -> None:
    tasks = sys.argv[1:] or TASKS
    for args in (("status", "-q"), ("repro", "-q")):  # the loop's latency, in this repository
        seconds = min(dvc(ROOT, *args)[0] for _ in range(3))
        print(f"dvc {args[0]} (nothing to do, all stages): {seconds:.2f} s")
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
