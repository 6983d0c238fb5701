"""Queued DVC experiments, run and read back: what the searches (reprolab/search.py) and
the seed runs (reprolab/seeds.py) are made of.

Each run is `dvc exp run --queue -n NAME -S KEY=VALUE... [TARGET]`: DVC copies the
workspace as it is when the run is queued into a temporary directory, runs it there (the
workspace is left alone, so work can go on meanwhile) and keeps the result as a named
experiment, which `dvc exp show` lists and `dvc exp apply NAME` brings back.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

from reprolab.files import UserError

POLL_SECONDS = 5
RAN = re.compile(r"Running stage '([^']+)'")
RESTORED = re.compile(r"Stage '([^']+)' is cached - skipping run, checking out outputs")  # DVC's run cache


def dvc(*args: str) -> str:
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"dvc {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def _idle() -> bool:
    """Nothing queued, and nothing running (a task a killed run left marked Running, with no
    worker alive, does not count)."""
    status = dvc("queue", "status")
    if re.search(r"\bQueued\b", status):
        return False
    return not re.search(r"\bRunning\b", status) or bool(re.search(r"Worker status: 0 active", status))


def run(runs: dict[str, list[str]], targets: tuple[str, ...] = (), jobs: int = 1) -> dict[str, dict | None]:
    """Queue one experiment per name with its `-S` overrides, run the queue `jobs` at a time,
    wait, and return each run's metrics ({path: {key: ...}}), or None where it failed."""
    if not _idle():
        raise UserError("the DVC queue is busy (dvc queue status): wait for it, or dvc queue kill")
    baseline = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    for name, overrides in runs.items():
        dvc("exp", "run", "--queue", "-n", name, *(arg for value in overrides for arg in ("-S", value)), *targets)
    dvc("queue", "start", "-j", str(jobs))
    while not _idle():
        time.sleep(POLL_SECONDS)
    return metrics(list(runs), baseline)


def stages(name: str) -> tuple[list[str], list[str]]:
    """The stages a finished experiment ran, and those it restored from the run cache, as
    its log (`dvc queue logs NAME`) says."""
    log = dvc("queue", "logs", name)
    return sorted(set(RAN.findall(log))), sorted(set(RESTORED.findall(log)))


def metrics(names: list[str], baseline: str = "HEAD") -> dict[str, dict | None]:
    """The metrics of the named experiments of `baseline` (the commit they were queued on, which
    a commit made meanwhile does not change), as `dvc exp show --json` gives them."""
    found: dict[str, dict | None] = dict.fromkeys(names)
    for entry in json.loads(dvc("exp", "show", "--json", "--no-fetch", "--rev", baseline) or "[]"):
        for experiment in entry.get("experiments") or []:
            name, data = experiment.get("name"), (experiment.get("revs") or [{}])[0].get("data") or {}
            if name in found and data.get("metrics"):
                found[name] = {path: value.get("data", {}) for path, value in data["metrics"].items()}
    return found


def lookup(data: dict, dotted: str):
    """data["a"]["b"] for "a.b"; None where a key is missing."""
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data
