"""What sharing a search costs: one trial on the distributed path (a worker's run in a temporary
copy, `dvc exp push`, the database, a reader's `dvc exp pull`) against the same trial through
the local DVC queue, and the trials an hour of one worker against two on this machine.

    python -m bench.many_machines [TRIALS]     (part of make bench; default: 4 trials a study)

Needs the pipeline run here first (`dvc repro`: advertising's features in the cache) and
PostgreSQL's server binaries (Debian's postgresql package). Works in clones of this
repository's last commit in a temporary folder that share this one's cache (`cache.dir`),
with a bare git repository as their git remote, a folder as their DVC remote and a real
PostgreSQL server on 127.0.0.1. The task is advertising (one thread a training), each trial
at a learning rate no earlier run used, so that nothing is restored from the run cache.
Printed: each part's seconds, and the ratio of two workers' trials an hour to one's.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests.helpers import pgserver

ROOT = Path(__file__).resolve().parents[1]
TASK = "advertising"


def run(repo: Path, *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(args, cwd=repo, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: bench.many_machines: {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
    return time.perf_counter() - started


def clone(origin: Path, to: Path) -> Path:
    """A clone of the git remote that shares this repository's cache, its outputs linked out of it."""
    run(origin.parent, "git", "clone", "-q", str(origin), str(to))
    run(to, "dvc", "config", "--local", "cache.dir", str(ROOT / ".dvc/cache"))
    run(to, "dvc", "config", "--local", "cache.type", "hardlink,symlink,copy")
    run(to, "dvc", "checkout", "-q", f"publish@{TASK}", "--with-deps")
    return to


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    os.environ["PGPASSWORD"] = pgserver.PASSWORD
    rates = iter(round(random.uniform(0.004, 0.04), 6) for _ in range(100))  # noqa: S311 (not a secret)
    lr = lambda: f"++tasks.{TASK}.train.lr={next(rates)}"  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="bench-many-") as tmp, pgserver.running() as (url, _):
        tmp = Path(tmp)
        origin = tmp / "origin.git"
        run(tmp, "git", "clone", "-q", "--bare", str(ROOT), str(origin))
        head = clone(origin, tmp / "head")
        run(head, "dvc", "remote", "add", "-d", "bench", str(tmp / "dvc-remote"))
        space = {"task": TASK, "metric": "val.r2", "direction": "maximize", "trials": trials, "sampler": "grid"}
        searches = {"seed": 42}
        for name in ("bench-one", "bench-two"):
            searches[name] = space | {"space": {"train.lr": {"choices": [next(rates) for _ in range(trials)]}}}
        (head / "search.yaml").write_text(yaml.safe_dump(searches))
        run(head, "git", "commit", "-qam", "bench: a DVC remote, two searches")
        run(head, "git", "push", "-q", "origin", "HEAD")
        run(head, "dvc", "push", "-q")  # the baseline's outputs, as a team's remote holds them
        one, two, reader = (clone(origin, tmp / name) for name in ("one", "two", "reader"))

        queued = time.perf_counter()  # the local path before: a queued experiment
        run(one, "dvc", "exp", "run", "--queue", "-n", "queued", "-S", lr(), f"publish@{TASK}")
        run(one, "dvc", "queue", "start", "-j", "1")
        while (
            "Queued"
            in (s := subprocess.run(["dvc", "queue", "status"], cwd=one, capture_output=True, text=True).stdout)
            or "Running" in s
        ):
            time.sleep(1)
        queued = time.perf_counter() - queued
        run(one, "dvc", "queue", "stop")
        temp = run(one, "dvc", "exp", "run", "--temp", "-n", "temp", "-S", lr(), f"publish@{TASK}")
        push = run(one, "dvc", "exp", "push", "--run-cache", "origin", "temp")
        pull = run(reader, "dvc", "exp", "pull", "origin", "temp")

        import optuna

        study = optuna.create_study(storage=url, study_name="bench-db")
        started = time.perf_counter()
        for _ in range(10):
            trial = study.ask()
            trial.suggest_float("x", 0, 1)
            trial.set_user_attr("experiments", ["a"])
            study.tell(trial, 0.0)
        database = (time.perf_counter() - started) / 10

        search = [sys.executable, "-m", "reprolab.experiments.search"]
        alone = run(one, *search, "bench-one", "--storage", url)
        started = time.perf_counter()
        workers = [
            subprocess.Popen([*search, "bench-two", "--storage", url], cwd=c, stdout=subprocess.DEVNULL)
            for c in (one, two)
        ]
        if any(w.wait() for w in workers):
            sys.exit("error: bench.many_machines: a worker of bench-two failed")
        together = time.perf_counter() - started

    print(f"one trial of {TASK}, seconds:")
    print(f"  local queue (dvc exp run --queue, dvc queue start, until done)  {queued:6.1f}")
    print(f"  distributed: run (dvc exp run --temp)                            {temp:6.1f}")
    print(f"               push (dvc exp push --run-cache)                     {push:6.1f}")
    print(f"               database (ask, params, tell; PostgreSQL)            {database:6.3f}")
    print(f"               a reader's pull (dvc exp pull)                      {pull:6.1f}")
    extra = temp + push + database - queued
    print(f"  distributed - local queue: {extra:+.1f} s a trial (a reader's pull, once per trial read: {pull:.1f} s)")
    print(
        f"{trials} trials: one worker {alone:.0f} s ({trials * 3600 / alone:.0f} an hour), "
        f"two workers {together:.0f} s ({trials * 3600 / together:.0f} an hour): ratio {alone / together:.2f}"
    )


if __name__ == "__main__":
    main()
