"""DVC experiments, run, shared and read back: what the searches (reprolab/experiments/search.py) and the
seed runs (reprolab/experiments/seeds.py) are made of.

Each run is `dvc exp run --temp -n NAME -S KEY=VALUE... [TARGET]`: DVC copies the workspace
into a temporary directory, runs it there (the workspace is left alone, so work can go on
meanwhile, and a run killed half-way leaves it as it was) and keeps the result as a named
experiment, which `dvc exp show` lists and `dvc exp apply NAME` brings back. One run at a
time in a clone: two at once in one workspace mix their params. `dvc exp push` sends a
finished experiment (its git ref, its outputs and its run-cache entries) to the remotes, and
`dvc exp pull` brings it into another clone.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

from reprolab.core.errors import UserError

RAN = re.compile(r"Running stage '([^']+)'")
RESTORED = re.compile(r"Stage '([^']+)' is cached - skipping run, checking out outputs")  # DVC's run cache


class ExperimentFailed(Exception):
    """A run that failed (its trial fails; the search goes on)."""


def dvc(*args: str) -> str:
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"dvc {' '.join(args)}: {_last(result)}")
    return result.stdout


def _last(result: subprocess.CompletedProcess) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


@dataclass
class Run:
    name: str
    metrics: dict  # {path: {key: ...}}, as `dvc exp show --json` gives them
    ran: list[str]  # the stages it ran
    restored: list[str]  # and those it restored from the run cache


def head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def still_on(revision: str, what: str) -> None:
    """Refuse to start a run once HEAD has left `revision`: `dvc exp run` would base it on the new
    commit, where neither the report nor the other runs look for it."""
    here = head()
    if here != revision:
        raise UserError(
            f"{what}: HEAD moved from {revision[:12]} to {here[:12]} while it ran; commit only after it "
            f"ends: git checkout {revision[:12]} and run it again to go on"
        )


def run(name: str, overrides: list[str], targets: tuple[str, ...] = ()) -> Run:
    """Run one experiment with its `-S` overrides; ExperimentFailed if it fails. It is looked up
    under the commit it ran on: one made while it ran (which the next run refuses) hides it not."""
    baseline = head()
    args = ["dvc", "exp", "run", "--temp", "-n", name, *(a for value in overrides for a in ("-S", value)), *targets]
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExperimentFailed(f"{name}: {_last(result)}")
    found = metrics([name], baseline)[name]
    if found is None:
        raise ExperimentFailed(f"{name}: ran, but dvc exp show has no metrics of it")
    ran, restored = sorted(set(RAN.findall(result.stdout))), sorted(set(RESTORED.findall(result.stdout)))
    return Run(name, found, ran, restored)


def push(names: list[str], remote: str) -> None:
    """The experiments' git refs to the git remote, their outputs and run-cache entries to the
    DVC remote. A failure is one line: the trial is not told complete."""
    result = subprocess.run(["dvc", "exp", "push", "--run-cache", remote, *names], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"dvc exp push {remote} {' '.join(names)} failed: {_last(result)}")


def pull(names: list[str], remote: str) -> None:
    """Bring experiments run in other clones (their refs and outputs) into this one."""
    result = subprocess.run(["dvc", "exp", "pull", remote, *names], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"dvc exp pull {remote} {' '.join(names)} failed: {_last(result)}")


def metrics(names: list[str], baseline: str = "HEAD") -> dict[str, dict | None]:
    """The metrics of the named experiments of `baseline` (the commit they ran on, which a
    commit made meanwhile does not change), as `dvc exp show --json` gives them."""
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
