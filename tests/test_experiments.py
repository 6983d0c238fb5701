"""End to end, the experiments: `dvc exp run -S`, a queued sweep and `make compare`, the run
cache (a configuration already run is restored, not run again), remote storage, and a typo
refused, on the real dvc.yaml in a clone of the baseline (tests/pipeline_repo.py; the
pipeline itself: test_pipeline.py)."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.pipeline_repo import TASKS, clone, environment, ran, restored, sh


@pytest.fixture(scope="module")
def repo(baseline, tmp_path_factory, mirror_dir) -> Path:
    """A clone of the baseline (the pipeline run and committed), with its cache."""
    with environment(mirror_dir):
        return clone(baseline, tmp_path_factory.mktemp("experiments") / "repo")


@pytest.fixture(autouse=True)
def served(mirror_dir):
    with environment(mirror_dir) as server:
        yield server


def test_a_default_change_reruns_only_the_tasks_that_use_it(repo):
    result = sh(repo, "dvc", "exp", "run", "-S", "train.lr=0.01")
    unpinned = {name for name in TASKS if "lr" not in _task_train(repo, name)}
    assert unpinned == {"advertising"}
    assert ran(result) == {"params"} | {f"{s}@{t}" for s in ("train", "evaluate", "publish") for t in unpinned}

    diff = json.loads(sh(repo, "dvc", "metrics", "diff", "--json").stdout)
    assert set(diff) == {"metrics/advertising.json"}
    assert "test.r2" in diff["metrics/advertising.json"]

    experiments = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    runs = [exp for baseline in experiments for exp in baseline.get("experiments") or []]
    assert runs, "no experiment recorded"
    run = runs[0]["revs"][0]["data"]
    assert run["params"]["params.yaml"]["data"]["train"]["lr"] == 0.01
    assert "test" in run["metrics"]["metrics/advertising.json"]["data"]


def _task_train(repo: Path, name: str) -> dict:
    return yaml.safe_load((repo / "params.yaml").read_text())["tasks"][name]["train"]


def _queue_idle(repo: Path) -> bool:
    status = sh(repo, "dvc", "queue", "status").stdout
    return not re.search(r"\b(Queued|Running)\b", status)


def test_queued_experiments_run_two_at_a_time(repo):
    def workspace() -> tuple[str, str]:  # the last experiment above is applied: compare with that
        return sh(repo, "git", "status", "--porcelain").stdout, sh(repo, "git", "diff").stdout

    before = workspace()
    rates = (0.002, 0.02, 0.2)
    for lr in rates:
        sh(repo, "dvc", "exp", "run", "--queue", "-n", f"lr-{lr}", "-S", f"train.lr={lr}")
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
        assert data["params"]["params.yaml"]["data"]["train"]["lr"] == lr
        losses.add(data["metrics"]["metrics/advertising.json"]["data"]["test"]["rmse"])
    assert len(losses) == len(rates)  # each run has metrics of its own
    assert workspace() == before

    table = sh(repo, "make", "--no-print-directory", "compare").stdout  # the README's command
    header = next(line for line in table.splitlines() if line.startswith("|"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert len(columns) <= 60 and max(len(line) for line in table.splitlines()) <= 200, table
    assert "train.lr" in columns and "test.r2" in columns and all(f"lr-{lr}" in table for lr in rates), table


def test_a_task_override_reruns_only_that_task(repo):
    result = sh(repo, "dvc", "exp", "run", "-S", "tasks.nslkdd.train.lr=0.05")
    assert ran(result) == {"params", "train@nslkdd", "evaluate@nslkdd", "publish@nslkdd"}


def at_seed(repo: Path, seed: int) -> None:
    """Set params.yaml's seed by hand, as a user would (the rest of the file as it is)."""
    path = repo / "params.yaml"
    path.write_text(re.sub(r"(?m)^seed: \d+", f"seed: {seed}", path.read_text(), count=1))


COSTLY = {f"{stage}@{task}" for stage in ("featurize", "train", "evaluate") for task in ("blobs", "nslkdd")}
PUBLISH = ("publish@blobs", "publish@nslkdd")


def test_a_configuration_already_run_is_restored_not_run_again(repo):
    """Seed 1 (committed) -> 2 -> 1 in the workspace, then 2 again in `dvc exp run`: each
    configuration trains once; a return to it is a checkout, byte for byte the first run's."""
    sh(repo, "git", "reset", "-q", "--hard")
    sh(repo, "dvc", "checkout", "-q", "--force")
    at_seed(repo, 2)
    second = sh(repo, "dvc", "repro", *PUBLISH)
    assert ran(second) == {"params", *COSTLY, *PUBLISH} and restored(second) == set()
    at_seed(repo, 1)
    third = sh(repo, "dvc", "repro", *PUBLISH)
    assert restored(third) == COSTLY, third.stdout
    assert ran(third) == {"params", *PUBLISH}  # the git-kept copies: not cacheable, a copy
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # the committed bytes, from the cache
    assert sh(repo, "dvc", "status", "--json").stdout.strip() == "{}"
    again = sh(repo, "dvc", "exp", "run", "-S", "seed=2", *PUBLISH)
    assert restored(again) == COSTLY and ran(again) == {"params", *PUBLISH}, again.stdout


def cached_object(repo: Path, stage: str, path: str) -> Path:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"][stage]
    (md5,) = [out["md5"] for out in lock["outs"] if out["path"] == path]
    return repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]


def test_a_run_cache_entry_whose_object_is_missing_or_tampered_runs_again(repo):
    """Seed 2's models (the test above ran it) lose their cached objects, one deleted, one
    overwritten: at seed 2 again, both train stages run again and make the same bits."""
    assert "seed: 2" in (repo / "params.yaml").read_text()
    deleted, tampered = (
        cached_object(repo, "train@blobs", "models/blobs.pt"),
        cached_object(repo, "train@nslkdd", "models/nslkdd.pt"),
    )
    wanted = {path: path.read_bytes() for path in (deleted, tampered)}
    sh(repo, "dvc", "exp", "run", "-S", "seed=1", *PUBLISH)  # no copy of seed 2's models is left outside the cache
    deleted.unlink()
    tampered.chmod(0o644)
    tampered.write_bytes(b"not a model")
    result = sh(repo, "dvc", "exp", "run", "-S", "seed=2", *PUBLISH)
    assert {"train@blobs", "train@nslkdd"} <= ran(result), result.stdout
    assert {"featurize@blobs", "featurize@nslkdd"} <= restored(result)
    for path, content in wanted.items():  # the same bits again, in the cache and in the workspace
        assert path.read_bytes() == content
    assert (repo / "models/blobs.pt").read_bytes() == wanted[deleted]
    assert (repo / "models/nslkdd.pt").read_bytes() == wanted[tampered]


def test_push_then_a_fresh_clone_pulls_and_has_nothing_to_run(repo, tmp_path, monkeypatch):
    """Through an S3-compatible server (moto) on 127.0.0.1, as a team's remote would be; with
    the run cache, a teammate's clone restores a configuration that only the other one ran."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    sh(repo, "git", "reset", "-q", "--hard")  # the committed baseline, whatever the tests above applied
    sh(repo, "dvc", "checkout", "-q", "--force")
    try:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(key, value)
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="reprolab")
        sh(repo, "dvc", "remote", "add", "-d", "team", "s3://reprolab/cache")
        sh(repo, "dvc", "remote", "modify", "team", "endpointurl", endpoint)
        sh(repo, "git", "commit", "-qam", "team remote")
        pushed = sh(repo, "dvc", "push", "--run-cache")  # the runs of every configuration too
        assert re.search(r"\d+ files? pushed", pushed.stdout), pushed.stdout

        clone = tmp_path / "clone"
        sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
        pulled = sh(clone, "dvc", "pull", "--run-cache")
        assert (clone / "models/nslkdd.pt").exists(), pulled.stdout
        again = sh(clone, "dvc", "repro")
        assert ran(again) == set() and "Data and pipelines are up to date." in again.stdout
        at_seed(clone, 2)  # run in the other clone (the tests above), never here
        teammate = sh(clone, "dvc", "repro", "--pull", *PUBLISH)  # --pull: the restored runs' objects too
        assert restored(teammate) == COSTLY and ran(teammate) == {"params", *PUBLISH}, teammate.stdout
    finally:
        server.stop()


def test_an_unknown_key_stops_the_run(repo):
    result = sh(repo, "dvc", "exp", "run", "-S", "+train.lrr=0.5", ok=False)
    assert result.returncode != 0
    assert "error: params: params.yaml: train.lrr: unknown key" in result.stderr + result.stdout


def test_a_search_is_an_optuna_study_of_queued_experiments(repo):
    sh(repo, "git", "reset", "-q", "--hard")  # the committed baseline, whatever the tests above applied
    space = {"metric": "val.r2", "direction": "maximize", "trials": 2, "batch": 2, "sampler": "grid"}
    space["space"] = {"train.lr": {"choices": [0.003, 0.03]}}
    (repo / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "advertising": space}))
    before = sh(repo, "git", "status", "--porcelain").stdout
    result = sh(repo, sys.executable, "-m", "reprolab.search", "advertising")
    study = json.loads((repo / "reports/search/advertising.json").read_text())
    assert sorted(t["params"]["train.lr"] for t in study["trials"]) == [0.003, 0.03]
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
    status = sh(repo, "git", "status", "--porcelain").stdout  # the trials ran elsewhere: only the results are new
    assert set(status.splitlines()) - set(before.splitlines()) == {"?? reports/search/"}


def stages_per_seed(printed: str) -> dict[int, tuple[set[str], set[str]]]:
    """What `python -m reprolab.seeds` says each seed's experiment ran and restored."""
    found = re.findall(r"^seed (\d+): ran (.*); restored (.*)$", printed, re.MULTILINE)
    names = lambda text: set() if text == "nothing" else set(text.split(", "))  # noqa: E731
    return {int(seed): (names(ran), names(restored)) for seed, ran, restored in found}


def test_seeds_measure_the_spread_and_the_default_seed_repeats_the_committed_run(repo):
    sh(repo, "git", "reset", "-q", "--hard")
    seed = yaml.safe_load((repo / "params.yaml").read_text())["seed"]
    command = (sys.executable, "-m", "reprolab.seeds", "publish@advertising", "--seeds", str(seed), str(seed + 1))
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
