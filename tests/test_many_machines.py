"""A search shared by two workers in two clones at two paths, through a real PostgreSQL
server, a bare git repository as the git remote and a folder as the DVC remote; one worker
is killed mid-trial (as a lost machine) and started again. Then a third clone, which ran no
trial, writes the results from the storage and the pulled experiments and applies the best."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reprolab.core.errors import UserError
from reprolab.experiments import studies
from tests.helpers import pgserver
from tests.helpers.pipeline_repo import sh

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("served")]
HEARTBEAT = 2
LRS = [0.003, 0.006, 0.03, 0.06]  # the grid: four trials


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[str, Path]]:
    with pgserver.running() as server:
        yield server


def worker_clone(baseline: Path, origin: Path, to: Path) -> Path:
    """A clone of the shared git remote, with the baseline's DVC cache (hard links) checked out."""
    to.parent.mkdir(parents=True)
    sh(to.parent, "git", "clone", "-q", str(origin), str(to))
    shutil.copytree(baseline / "repo/.dvc/cache", to / ".dvc/cache", copy_function=os.link)
    sh(to, "dvc", "checkout", "-q")
    return to


def start(repo: Path, url: str, log: Path, *extra: str) -> subprocess.Popen:
    """A worker: its own process group, so that killing it kills its dvc and stage processes too."""
    command = [
        sys.executable,
        "-m",
        "reprolab.experiments.search",
        "advertising",
        "--storage",
        url,
        "--heartbeat",
        str(HEARTBEAT),
    ]
    return subprocess.Popen(
        [*command, *extra], cwd=repo, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def test_two_workers_share_a_study_and_a_killed_trial_runs_again(baseline, postgres, tmp_path, monkeypatch):
    import optuna
    from optuna.trial import TrialState

    postgres, data = postgres
    monkeypatch.setenv("PGPASSWORD", pgserver.PASSWORD)
    origin = tmp_path / "origin.git"
    sh(tmp_path, "git", "clone", "-q", "--bare", str(baseline / "repo"), str(origin))
    head = worker_clone(baseline, origin, tmp_path / "head/repo")
    sh(head, "dvc", "remote", "add", "-d", "shared", str(tmp_path / "dvc-remote"))
    space = {"metric": "val.r2", "direction": "maximize", "trials": 4, "sampler": "grid"}
    space["space"] = {"train.lr": {"choices": LRS}}
    (head / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "advertising": space}))
    sh(head, "git", "commit", "-qam", "a shared DVC remote; the search")
    sh(head, "git", "push", "-q", "origin", "HEAD")
    one = worker_clone(baseline, origin, tmp_path / "machine-a/work/reprolab")
    two = worker_clone(baseline, origin, tmp_path / "machine-b/home/ci/reprolab")

    with pytest.raises(UserError, match=r"^the study storage postgresql\+psycopg://reprolab:\*\*\*@"):
        studies.storage(postgres.replace("reprolab@", "reprolab:wrong-password@"))  # said, never shown

    logs = {name: tmp_path / f"{name}.log" for name in ("one", "two", "one-again")}
    first = start(one, postgres, logs["one"])
    second = start(two, postgres, logs["two"])
    deadline = time.monotonic() + 120
    while not re.search(r"^trial \d+: \+\+", logs["one"].read_text(), re.MULTILINE):
        assert time.monotonic() < deadline and first.poll() is None, logs["one"].read_text()
        time.sleep(0.2)
    time.sleep(3)  # inside its dvc exp run
    killed_trial = int(re.findall(r"^trial (\d+): \+\+", logs["one"].read_text(), re.MULTILINE)[-1])
    os.killpg(first.pid, signal.SIGKILL)  # a lost machine: no goodbye, no cleanup
    killed_at = time.time()
    first.wait()
    again = start(one, postgres, logs["one-again"])  # the same clone goes on with the study
    for worker in (second, again):
        assert worker.wait(timeout=400) == 0, {k: p.read_text() for k, p in logs.items()}

    storage = optuna.storages.RDBStorage(postgres)
    trials = optuna.load_study(study_name="advertising", storage=storage).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4 and sorted(t.params["train.lr"] for t in complete) == LRS  # each once, no overshoot
    lost = trials[killed_trial]
    assert lost.state == TrialState.FAIL
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == killed_trial)
    assert retry.state == TrialState.COMPLETE and retry.params == lost.params
    failed_after = lost.datetime_complete.timestamp() - killed_at
    assert failed_after < 3 * HEARTBEAT + HEARTBEAT + 15, failed_after  # grace, the watcher's period, a loaded machine
    ran_by = {
        name: set(map(int, re.findall(r"^trial (\d+): val", log.read_text(), re.MULTILINE)))
        for name, log in logs.items()
    }
    assert sorted(n for found in ran_by.values() for n in found) == sorted(t.number for t in complete)  # told once each
    names = [n for t in trials for n in t.user_attrs.get("experiments", [])]
    assert len(names) == len(set(names))  # no experiment name twice
    by = [name for name, found in ran_by.items() if retry.number in found]
    print(f"trial {killed_trial} killed, failed {failed_after:.1f} s later, run again as {retry.number} by {by}")

    # C: any clone, even one that ran no trial: the table from the storage and the pulled experiments
    reader = worker_clone(baseline, origin, tmp_path / "laptop/reader")
    printed = sh(
        reader, sys.executable, "-m", "reprolab.experiments.search", "advertising", "--storage", postgres, "--report"
    )
    table = json.loads((reader / "reports/search/advertising.json").read_text())
    assert table == json.loads((two / "reports/search/advertising.json").read_text())
    assert [t["trial"] for t in table["trials"]] and len(table["trials"]) == 4
    assert {t["trial"]: t["val"]["r2"] for t in table["trials"]} == {t.number: t.value for t in complete}
    best = table["trials"][0]["experiment"]
    assert f"dvc exp apply {best}" in printed.stdout and pgserver.PASSWORD not in printed.stdout + printed.stderr
    sh(reader, "dvc", "exp", "apply", best)
    applied = yaml.safe_load((reader / "params.yaml").read_text())["tasks"]["advertising"]["train"]["lr"]
    assert applied == table["trials"][0]["params"]["train.lr"]
    assert (reader / "models/advertising.pt").is_file()

    # seeds the same way: two workers take the seeds of one job study, and both write the same summary
    command = [
        sys.executable,
        "-m",
        "reprolab.experiments.seeds",
        "publish@advertising",
        "--seeds",
        "1",
        "2",
        "--storage",
        postgres,
    ]
    workers = [subprocess.Popen(command, cwd=c, stdout=subprocess.PIPE, text=True) for c in (one, two)]
    said = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], said
    summaries = [json.loads((c / "reports/seeds.json").read_text()) for c in (one, two)]
    assert summaries[0] == summaries[1] and summaries[0]["seeds"] == [1, 2]
    jobs = optuna.load_study(
        study_name=next(n for n in optuna.get_all_study_names(storage) if n.startswith("seeds-")), storage=storage
    )
    assert sorted(t.params["seed"] for t in jobs.get_trials() if t.state == TrialState.COMPLETE) == [1, 2]
    assert len(jobs.get_trials()) == 2  # each seed run once, by one of the two

    # a push that fails: one line, and the trial is not told complete
    sh(two, "git", "remote", "set-url", "origin", str(tmp_path / "no-such-remote.git"))
    failed = sh(
        two,
        sys.executable,
        "-m",
        "reprolab.experiments.search",
        "advertising",
        "--storage",
        postgres,
        "--trials",
        "5",
        ok=False,
    )
    assert failed.returncode == 1 and re.search(
        r"^error: search@advertising: dvc exp push origin \S+ failed: ", failed.stderr, re.MULTILINE
    ), failed.stderr
    after = optuna.load_study(study_name="advertising", storage=storage).get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in after) == 4

    # the database lost mid-trial: one line naming it, no traceback
    lost = start(one, postgres, tmp_path / "lost.log", "--trials", "6")
    while not re.search(r"^trial 6: \+\+", (tmp_path / "lost.log").read_text(), re.MULTILINE):
        assert lost.poll() is None, (tmp_path / "lost.log").read_text()
        time.sleep(0.2)
    pgserver.stop(data)
    assert lost.wait(timeout=120) == 1
    said = (tmp_path / "lost.log").read_text()
    assert re.search(
        r"^error: search@advertising: the study storage postgresql\+psycopg://reprolab@127\.0\.0\.1:\d+/studies: ",
        said,
        re.MULTILINE,
    ), said
    assert "Traceback" not in said, said
