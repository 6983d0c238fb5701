"""End to end: the real dvc.yaml, real `dvc` commands, a temporary git repository, and
fixture files served over HTTP from 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from reprolab.tasks import every
from tests.conftest import ROOT, fixture_pins
from tests.test_deps import declared

OUTPUTS = ("dvc.lock", "data/", "models/", "dvclive/", "metrics/", "plots/", "reports/")
TASKS = every()
ALL_STAGES = {"params"} | {f"{s}@{t}" for s in ("download", "split", "featurize", "train", "evaluate") for t in TASKS}


def sh(repo: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=repo, capture_output=True, text=True, env=os.environ | {"CI": "true"})
    if ok and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def ran(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", result.stdout))


@pytest.fixture(scope="module")
def repo(tmp_path_factory, mirror_dir) -> Path:
    """A copy of the project's source (no outputs) in a fresh git repository, with the
    task modules' pinned checksums replaced by those of the fixture files."""
    repo = tmp_path_factory.mktemp("repo")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in listed:
        if not name.startswith(OUTPUTS) and (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    for task in TASKS.values():
        module = repo / "reprolab" / "tasks" / f"{task.name}.py"
        text = module.read_text()
        for source in task.sources:
            for kind, pin in fixture_pins(mirror_dir, source).items():
                if pin is not None:
                    text = text.replace(getattr(source, kind), pin)
        module.write_text(text)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for block in params["tasks"].values():  # the fixtures are small; so are the runs
        block["train"]["epochs"] = min(block["train"].get("epochs", params["train"]["epochs"]), 3)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "ci@example.com")
    sh(repo, "git", "config", "user.name", "CI")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "source")
    return repo


@pytest.fixture(scope="module")
def import_log(tmp_path_factory) -> Path:
    """Where each stage process lists the project files it loaded (tests/importlog)."""
    return tmp_path_factory.mktemp("imports")


@pytest.fixture(scope="module", autouse=True)
def environment(mirror_dir, import_log):
    """dvc and python from this interpreter's environment; downloads from a local server."""
    from tests.conftest import FileServer

    saved = dict(os.environ)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests/importlog"), os.environ.get("PYTHONPATH", "")])
    os.environ["REPROLAB_IMPORT_LOG"] = str(import_log)
    with FileServer(mirror_dir) as server:
        os.environ["REPROLAB_MIRROR"] = server.url
        yield server
    os.environ.clear()
    os.environ.update(saved)


def metric_files(repo: Path) -> dict[str, bytes]:
    files = [*repo.glob("metrics/*.json"), *repo.glob("dvclive/*/metrics.json"), *repo.glob("dvclive/**/*.tsv")]
    files += [*repo.glob("plots/*/*.csv")]
    return {str(path.relative_to(repo)): path.read_bytes() for path in files}


def test_repro_runs_every_stage_then_nothing(repo, environment, mirror_dir):
    first = sh(repo, "dvc", "repro")
    assert ran(first) == ALL_STAGES
    fetched = {s.filename for task in TASKS.values() for s in task.sources}
    assert set(environment.requests) == fetched | {"SHA256SUMS"}  # the mirror has no manifest: 404
    second = sh(repo, "dvc", "repro")
    assert ran(second) == set()
    assert "Data and pipelines are up to date." in second.stdout

    metrics = {t: json.loads((repo / f"metrics/{t}.json").read_text()) for t in TASKS}
    details = {t: json.loads((repo / f"reports/{t}/details.json").read_text()) for t in TASKS}
    assert set(metrics["blobs"]) == {"train", "val"}
    assert metrics["nslkdd"] == {
        "train": {"loss": metrics["nslkdd"]["train"]["loss"]},
        "val": {"loss": metrics["nslkdd"]["val"]["loss"], "accuracy": metrics["nslkdd"]["val"]["accuracy"]},
        "test": {key: metrics["nslkdd"]["test"][key] for key in ("accuracy", "macro_f1", "roc_auc")},
        "kddtest21": {"accuracy": details["nslkdd"]["metrics"]["kddtest21"]["accuracy"]},
    }
    assert details["nslkdd"]["metrics"]["test"]["unseen_categories"]["service"] > 0
    assert details["nslkdd"]["metrics"]["kddtest21"]["rows"] > 0
    assert set(metrics["advertising"]["test"]) == {"r2", "rmse"}
    assert {"mse", "rmse", "mae", "r2", "loss"} == set(details["advertising"]["metrics"]["test"])
    assert sum(len(values) for m in metrics.values() for values in m.values()) <= 48
    for name, task in TASKS.items():
        assert {s.filename for s in task.sources} == set(details[name]["sources"])
        assert all(s["origin"].startswith("http://127.0.0.1:") for s in details[name]["sources"].values())
    predictions = (repo / "reports/nslkdd/predictions.csv").read_text().splitlines()
    assert predictions[0] == "id,label,p_normal,p_attack"
    assert {line.split(",")[1] for line in predictions[1:]} <= {"normal", "attack"}
    for name in TASKS:
        assert (repo / f"reports/{name}/README.md").read_text().startswith(f"# {name}: model card")
    predicted = sh(repo, sys.executable, "-m", "reprolab", "predict", "nslkdd", str(mirror_dir / "KDDTest+.txt"))
    assert [line.split(",")[1] for line in predicted.stdout.splitlines()[1:]] == [
        line.split(",")[1] for line in predictions[1:]
    ]  # the model file alone, applied to the raw test file, gives what evaluate gave
    assert re.search(r"KDDTest\+\.txt: \d+ with a service never seen in training: encoded as unknown", predicted.stderr)
    for figure in ("nslkdd/curves", "nslkdd/confusion", "nslkdd/roc", "cifar10/misclassified", "mnist/confusion"):
        assert (repo / f"reports/{figure}.png").stat().st_size > 1000
    assert set(details["cifar10"]["metrics"]["test"]["per_class"]) == set(TASKS["cifar10"].classes)

    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "baseline")
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # outputs are git-ignored or committed


def test_each_stage_loaded_only_code_it_depends_on(repo, import_log):
    """The other side of tests/test_deps.py: what real stage processes loaded."""
    deps = declared(repo)
    logs = {path.stem: set(path.read_text().split()) for path in import_log.glob("*.txt")}
    assert set(logs) == ALL_STAGES
    for stage, loaded in logs.items():
        assert loaded <= deps[stage], f"{stage} loaded {sorted(loaded - deps[stage])}, not among its deps"
        name = stage.partition("@")[2]
        if name:  # the registry loaded this task's module, and no other task's
            assert {p for p in loaded if p.startswith("reprolab/tasks/")} - {"reprolab/tasks/__init__.py"} == {
                "reprolab/tasks/base.py",
                f"reprolab/tasks/{name}.py",
            }


def test_an_edit_reruns_exactly_the_stages_whose_code_it_touches(repo):
    edited = ("reprolab/tasks/news.py", "reprolab/training.py", "reprolab/figures.py")
    for path in edited:
        with (repo / path).open("a") as f:
            f.write("# an edit\n")
    try:
        changed = set(json.loads(sh(repo, "dvc", "status", "--json").stdout))
    finally:
        sh(repo, "git", "checkout", "--", *edited)
    news = {f"{s}@news" for s in ("download", "split", "featurize", "train", "evaluate")}
    assert changed == {"params"} | news | {f"{s}@{t}" for s in ("train", "evaluate") for t in TASKS}
    assert sh(repo, "dvc", "status", "--json").stdout.strip() == "{}"


def test_forced_rerun_gives_identical_metrics(repo):
    before = metric_files(repo)
    assert len(before) > 10
    forced = sh(repo, "dvc", "repro", "--force", "--single-item", "train", "evaluate")
    assert ran(forced) == {f"{s}@{t}" for s in ("train", "evaluate") for t in TASKS}
    assert metric_files(repo) == before


def test_plots_render_from_the_declared_files(repo):
    shown = json.loads(sh(repo, "dvc", "plots", "show", "--json").stdout)
    assert not shown.get("errors")
    classifiers = [name for name, task in TASKS.items() if task.kind != "regression"]
    declared = {f"{name}-loss" for name in TASKS} | {f"{name}-accuracy" for name in classifiers}
    declared |= {f"plots/{name}/confusion.csv" for name in classifiers}
    declared |= {"plots/nslkdd/roc.csv", "plots/nslkdd/per_attack.csv", "plots/advertising/predicted_vs_actual.csv"}
    assert set(shown["data"]) == declared
    for plot, renders in shown["data"].items():
        assert renders[0]["content"]["data"]["values"], plot


def test_a_default_change_reruns_only_the_tasks_that_use_it(repo):
    result = sh(repo, "dvc", "exp", "run", "-S", "train.lr=0.01")
    unpinned = {name for name in TASKS if "lr" not in _task_train(repo, name)}
    assert unpinned == {"advertising"}
    assert ran(result) == {"params"} | {f"{s}@{t}" for s in ("train", "evaluate") for t in unpinned}

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
    assert ran(result) == {"params", "train@nslkdd", "evaluate@nslkdd"}


def test_push_then_a_fresh_clone_pulls_and_has_nothing_to_run(repo, tmp_path, monkeypatch):
    """Through an S3-compatible server (moto) on 127.0.0.1, as a team's remote would be."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
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
        pushed = sh(repo, "dvc", "push")
        assert re.search(r"\d+ files? pushed", pushed.stdout), pushed.stdout

        clone = tmp_path / "clone"
        sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
        pulled = sh(clone, "dvc", "pull")
        assert (clone / "models/nslkdd.pt").exists(), pulled.stdout
        again = sh(clone, "dvc", "repro")
        assert ran(again) == set() and "Data and pipelines are up to date." in again.stdout
    finally:
        server.stop()


def test_an_unknown_key_stops_the_run(repo):
    result = sh(repo, "dvc", "exp", "run", "-S", "+train.lrr=0.5", ok=False)
    assert result.returncode != 0
    assert "error: params: params.yaml: train.lrr: unknown key" in result.stderr + result.stdout
