"""End to end, the experiments: `dvc exp run -S`, a queued sweep and `make compare`, a
search, seed runs, and a typo refused, on the real dvc.yaml in a clone of the baseline
(tests/helpers/pipeline_repo.py; the pipeline itself: test_pipeline.py; the run cache and remote
storage: test_runcache.py)."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers.pipeline_repo import NAMES, OWN, ran, sh

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("served")]


@pytest.fixture(scope="module")
def repo(cloned) -> Path:
    return cloned


def test_a_default_change_reruns_only_the_tasks_that_use_it(repo):
    result = sh(repo, "dvc", "exp", "run", "-S", "train.lr=0.01")
    unpinned = {name for name in NAMES if "lr" not in _task_train(repo, name)}
    assert unpinned == set(OWN)  # every classic task pins its own; your own start from the defaults
    assert ran(result) == {"plan"} | {f"{s}@{t}" for s in ("train", "evaluate", "publish") for t in unpinned}

    diff = json.loads(sh(repo, "dvc", "metrics", "diff", "--json").stdout)
    assert set(diff) == {f"metrics/{name}.json" for name in OWN}
    assert "test.accuracy" in diff["metrics/wine.json"]

    experiments = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    runs = [exp for baseline in experiments for exp in baseline.get("experiments") or []]
    assert runs, "no experiment recorded"
    run = runs[0]["revs"][0]["data"]
    assert run["params"]["params.yaml"]["data"]["train"]["lr"] == 0.01
    assert "test" in run["metrics"]["metrics/wine.json"]["data"]


def _task_train(repo: Path, name: str) -> dict:
    return yaml.safe_load((repo / "params.yaml").read_text())["tasks"][name]["train"]


def _queue_idle(repo: Path) -> bool:
    status = sh(repo, "dvc", "queue", "status").stdout
    return not re.search(r"\b(Queued|Running)\b", status)


def test_queued_experiments_run_two_at_a_time(repo):
    def workspace() -> tuple[str, str]:  # the last experiment above is applied: compare with that
        return sh(repo, "git", "status", "--porcelain").stdout, sh(repo, "git", "diff").stdout

    sh(repo, "git", "reset", "-q", "--hard")  # the committed baseline, not the experiment applied above
    sh(repo, "dvc", "checkout", "-q", "--force")
    sh(repo, "dvc", "exp", "remove", "--all-commits")  # and none of the experiments above in the table
    before = workspace()
    rates = (0.002, 0.02, 0.2)
    for lr in rates:
        sh(repo, "dvc", "exp", "run", "--queue", "-n", f"lr-{lr}", "-S", f"tasks.advertising.train.lr={lr}")
    sh(repo, "dvc", "queue", "start", "-j", "2")
    deadline = time.monotonic() + 600
    while not _queue_idle(repo):
        assert time.monotonic() < deadline, sh(repo, "dvc", "queue", "status").stdout
        time.sleep(3)
    experiments = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    runs = {
        exp["name"]: exp["revs"][0]["data"]
        for baseline in experiments
        for exp in baseline.get("experiments") or []
        if (exp.get("name") or "").startswith("lr-")
    }
    assert set(runs) == {f"lr-{lr}" for lr in rates}, sh(repo, "dvc", "queue", "status").stdout
    losses = set()
    for lr in rates:
        data = runs[f"lr-{lr}"]
        assert data["params"]["params.yaml"]["data"]["tasks"]["advertising"]["train"]["lr"] == lr
        losses.add(data["metrics"]["metrics/advertising.json"]["data"]["test"]["rmse"])
    assert len(losses) == len(rates)  # each run has metrics of its own
    assert workspace() == before

    table = sh(repo, "make", "--no-print-directory", "compare").stdout  # the README's command
    header = next(line for line in table.splitlines() if line.startswith("|"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert len(columns) <= 60 and max(len(line) for line in table.splitlines()) <= 200, table
    assert any(c.endswith("advertising.train.lr") for c in columns) and "test.r2" in columns, table
    assert all(f"lr-{lr}" in table for lr in rates), table


def test_a_task_override_reruns_only_that_task(repo):
    result = sh(repo, "dvc", "exp", "run", "-S", "tasks.nslkdd.train.lr=0.05")
    assert ran(result) == {"plan", "train@nslkdd", "evaluate@nslkdd", "publish@nslkdd"}


def test_a_search_is_an_optuna_study_of_dvc_experiments(repo):
    """Its trials are advertising's rates the queued sweep above ran: each is restored from the run cache."""
    sh(repo, "git", "reset", "-q", "--hard")  # the committed baseline, whatever the tests above applied
    sh(repo, "dvc", "checkout", "-q", "--force")
    space = {"metric": "val.r2", "direction": "maximize", "trials": 2, "batch": 2, "sampler": "grid"}
    space["space"] = {"train.lr": {"choices": [0.002, 0.02]}}
    seed = yaml.safe_load((repo / "params.yaml").read_text())["seed"]  # the sweep's: the same configurations
    (repo / "search.yaml").write_text(yaml.safe_dump({"seed": seed, "advertising": space}))
    before = sh(repo, "git", "status", "--porcelain").stdout
    result = sh(repo, sys.executable, "-m", "reprolab.experiments.search", "advertising")
    study = json.loads((repo / "reports/search/advertising.json").read_text())
    assert sorted(t["params"]["train.lr"] for t in study["trials"]) == [0.002, 0.02]
    first, second = (t["val"]["r2"] for t in study["trials"])
    assert first >= second and first != second  # best first, and each trial ran its own lr
    assert f"dvc exp apply {study['trials'][0]['experiment']}" in result.stdout
    names = {t["experiment"] for t in study["trials"]}
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    ran_as = {
        exp["name"]: exp["revs"][0]["data"]["params"]["params.yaml"]["data"]["tasks"]["advertising"]["train"]["lr"]
        for baseline in shown
        for exp in baseline.get("experiments") or []
        if exp.get("name") in names
    }
    assert ran_as == {t["experiment"]: t["params"]["train.lr"] for t in study["trials"]}
    costly = {f"{s}@advertising" for s in ("train", "evaluate")}
    said = stages_said(result.stdout)
    assert set(said) == names, result.stdout
    for name in names:  # the sweep above trained these configurations: restored, not trained again
        assert costly <= said[name][1] and not costly & said[name][0], said[name]
    status = sh(repo, "git", "status", "--porcelain").stdout  # the trials ran elsewhere: only the results are new
    assert set(status.splitlines()) - set(before.splitlines()) == {"?? reports/search/"}


def stages_said(printed: str) -> dict[str, tuple[set[str], set[str]]]:
    """What `python -m reprolab.experiments.search` or `reprolab.experiments.seeds` says each run ran and restored."""
    found = re.findall(r"^(\S+|seed \d+): ran (.*); restored (.*)$", printed, re.MULTILINE)
    names = lambda text: set() if text == "nothing" else set(text.split(", "))  # noqa: E731
    return {who: (names(ran_), names(restored_)) for who, ran_, restored_ in found}


def stages_per_seed(printed: str) -> dict[int, tuple[set[str], set[str]]]:
    return {int(who.split()[1]): stages for who, stages in stages_said(printed).items()}


def test_seeds_measure_the_spread_and_the_default_seed_repeats_the_committed_run(repo):
    sh(repo, "git", "reset", "-q", "--hard")
    sh(repo, "dvc", "checkout", "-q", "--force")
    seed = yaml.safe_load((repo / "params.yaml").read_text())["seed"]
    command = (
        sys.executable,
        "-m",
        "reprolab.experiments.seeds",
        "publish@advertising",
        "--seeds",
        str(seed),
        str(seed + 1),
    )
    first = stages_per_seed(sh(repo, *command).stdout)
    assert "train@advertising" in first[seed + 1][0]  # trained once
    summary = json.loads((repo / "reports/seeds.json").read_text())
    again = stages_per_seed(sh(repo, *command).stdout)  # make seeds twice in a row: the second trains nothing
    costly = {f"{s}@advertising" for s in ("featurize", "train", "evaluate")}
    assert not costly & (again[seed][0] | again[seed + 1][0]), again
    assert again[seed + 1][1] == costly, again
    assert json.loads((repo / "reports/seeds.json").read_text()) == summary
    assert summary["seeds"] == [seed, seed + 1]
    r2 = summary["metrics"]["metrics/advertising.json"]["test.r2"]
    committed = json.loads(sh(repo, "git", "show", "HEAD:metrics/advertising.json").stdout)["test"]["r2"]
    assert r2["values"][0] == committed  # the default seed gives the committed figure again, exactly
    assert r2["values"][1] != committed and r2["std"] > 0


TINY = '''"""A model of a user's own: one hidden layer of tanh units."""

from torch import nn

MODELS = {"tiny": {"keys": ["hidden"]}}


def tiny(n_in: int, n_out: int, hidden: list[int]) -> nn.Module:
    width = hidden[0] if hidden else 8
    return nn.Sequential(nn.Linear(n_in, width), nn.Tanh(), nn.Linear(width, n_out))
'''


def test_a_model_in_one_new_file_trains_through_an_experiment(repo):
    """docs/adding-a-model.md: the model's code and its registry entry in one new file, and
    nothing else; `-S tasks.blobs.model.name=tiny` trains, evaluates and publishes it."""
    (repo / "reprolab/learning/models/tiny.py").write_text(TINY)
    result = sh(repo, "dvc", "exp", "run", "-S", "tasks.blobs.model.name=tiny", "publish@blobs")
    assert ran(result) == {"plan", "train@blobs", "evaluate@blobs", "publish@blobs"}
    details = json.loads((repo / "reports/blobs/details.json").read_text())
    assert details["model"]["name"] == "tiny"
    assert details["metrics"]["val"]["accuracy"] > 0.5  # three classes (blobs has no test split): it learnt
    assert "model.name | tiny" in (repo / "reports/blobs/README.md").read_text()

    refused = sh(repo, "dvc", "exp", "run", "-S", "tasks.blobs.model.name=tinny", "publish@blobs", ok=False)
    assert refused.returncode != 0
    said = refused.stderr + refused.stdout
    assert "tasks.blobs.model.name: no model 'tinny'; the models are: linear, mlp, cnn" in said
    assert said.rstrip().endswith("tiny") or ", tiny" in said


def test_an_unknown_key_stops_the_run(repo):
    """Last: DVC 3.67 leaves the workspace it stashed for a refused `dvc exp run` behind, and
    the next `dvc exp run --queue` brings those files back into the workspace (seen here)."""
    result = sh(repo, "dvc", "exp", "run", "-S", "+train.lrr=0.5", ok=False)
    assert result.returncode != 0
    assert "error: plan: params.yaml: train.lrr: unknown key" in result.stderr + result.stdout
