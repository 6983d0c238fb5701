"""End to end, the pipeline itself: the real dvc.yaml run by real `dvc` commands in a
temporary git repository, on fixture files served over HTTP from 127.0.0.1 (the
experiments on the same pipeline: test_experiments.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import TASK_STAGES
from tests.helpers import own_data
from tests.helpers.pipeline_repo import (
    ALL_STAGES,
    INPUTS,
    NAMES,
    OUTPUTS,
    TASKS,
    environment,
    metric_files,
    ran,
    sh,
)  # fmt: skip
from tests.test_deps import unplanned

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(baseline) -> Path:
    return baseline / "repo"


@pytest.fixture(scope="module", autouse=True)
def served(mirror_dir):
    with environment(mirror_dir) as server:
        yield server


def test_repro_runs_every_stage_then_nothing(repo, baseline, mirror_dir):
    assert ran(Path(baseline / "first.txt").read_text()) == ALL_STAGES
    fetched = {s.filename for task in TASKS.values() for s in task.sources}
    requests = json.loads((baseline / "requests.json").read_text())
    assert set(requests) == fetched | {"SHA256SUMS"}  # the mirror has no manifest: 404
    second = (baseline / "second.txt").read_text()
    assert ran(second) == set()
    assert "Data and pipelines are up to date." in second

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
        assert all(s["origin"] == "mirror" for s in details[name]["sources"].values())  # no host, no port
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
    for figure in (
        "reports/nslkdd/curves",
        "plots/nslkdd/confusion",
        "plots/nslkdd/roc",
        "plots/nslkdd/per_attack",
        "plots/cifar10/misclassified",
        "plots/mnist/confusion",
        "plots/advertising/predicted_vs_actual",
    ):
        assert (repo / f"{figure}.png").stat().st_size > 1000, figure  # fmt: skip
    assert set(details["cifar10"]["metrics"]["test"]["per_class"]) == set(TASKS["cifar10"].classes)

    # git holds the small results, DVC's cache the rest: nothing else is left in the workspace
    committed = sh(repo, "git", "ls-files").stdout.split()
    kept = {p.split("/")[0] for p in committed if p.startswith(OUTPUTS[1:])}
    assert kept == {"data", "dvclive", "metrics", "models", "plots", "reports"}
    cached = ("models/", "data/live/", "data/evaluation/", "data/features/")
    assert not [p for p in committed if p.startswith(cached) and not p.endswith("/.gitignore")]
    assert sh(repo, "git", "status", "--porcelain").stdout == ""


def outputs(repo: Path) -> dict[str, bytes]:
    """Every DVC output (git-tracked or not) and dvc.lock, by path in the repository."""
    found = [repo / "dvc.lock"] + [p for out in OUTPUTS[1:] for p in (repo / out).rglob("*") if p.is_file()]
    return {path.relative_to(repo).as_posix(): path.read_bytes() for path in found}


@pytest.fixture(scope="module")
def elsewhere(repo, tmp_path_factory, mirror_dir) -> tuple[Path, Path, str]:
    """Two machines' layouts on one: a clone of the baseline in another folder, no DVC cache,
    the mirror a directory at another path (the baseline read it over HTTP), every stage
    forced to run again without the run cache. The clone, its mirror, what dvc printed."""
    other = tmp_path_factory.mktemp("another") / "checkout" / "reprolab"
    sh(repo, "git", "clone", "-q", str(repo), str(other))
    for name in INPUTS:  # your own data: DVC tracks it, git holds its .dvc file; here, as a user has it
        copy = shutil.copytree if (repo / name).is_dir() else shutil.copyfile
        copy(repo / name, other / name)
    mirror = shutil.copytree(mirror_dir, tmp_path_factory.mktemp("media") / "datasets" / "mirror")
    saved = os.environ["REPROLAB_MIRROR"]
    os.environ["REPROLAB_MIRROR"] = str(mirror)
    try:  # a reproduction, never a restore
        printed = sh(other, "dvc", "repro", "--force", "--no-run-cache").stdout
    finally:
        os.environ["REPROLAB_MIRROR"] = saved
    return other, mirror, printed


def test_a_clone_elsewhere_with_its_mirror_elsewhere_builds_the_same_bytes(repo, elsewhere):
    """Nothing recorded may tell the two layouts apart: every output and dvc.lock, byte for byte."""
    other, mirror, printed = elsewhere
    assert ran(printed) == ALL_STAGES
    mine, theirs = outputs(repo), outputs(other)
    assert len(mine) > 100 and {p.split("/")[0] for p in mine} >= {"data", "models", "dvclive", "reports"}
    assert sorted(mine) == sorted(theirs)
    assert [path for path in mine if mine[path] != theirs[path]] == []
    assert sh(other, "git", "status", "--porcelain").stdout == ""  # the committed record, rebuilt
    assert (other / "logs/runs.jsonl").read_text().count(str(mirror)) == len(ALL_STAGES)  # only there


def test_each_stage_loaded_only_code_its_plan_names(repo, baseline):
    """The other side of tests/test_deps.py: what real stage processes loaded."""
    logs = {path.stem: set(path.read_text().split()) for path in (baseline / "imports").glob("*.txt")}
    assert set(logs) == ALL_STAGES
    assert unplanned(repo, baseline / "imports") == []
    assert {stage for stage, loaded in logs.items() if "module:torch" in loaded} == {
        f"{s}@{t}" for s in ("train", "evaluate") for t in NAMES
    }  # the stages that neither train nor evaluate load no torch
    kind = {name: next(iter(block["source"])) for name, block in own_data.BLOCKS.items()}  # table, images, texts
    for stage, loaded in logs.items():
        name = stage.partition("@")[2]
        if name:  # the registry loaded this task's module (yours: its kind's), and no other task's
            modules = {"base", name} if name in TASKS else {"base", "own", kind[name]}
            assert {p for p in loaded if p.startswith("reprolab/data/tasks/")} - {
                "reprolab/data/tasks/__init__.py"
            } == {f"reprolab/data/tasks/{m}.py" for m in modules}


def code_files(repo: Path) -> list[Path]:
    return [p for name in ("reprolab", "stages") for p in sorted((repo / name).rglob("*.py"))]


def test_a_comment_in_every_module_reruns_only_the_plan(repo):
    """Issue 34's check: a comment appended to every module, then `dvc repro`."""
    for path in code_files(repo):
        with path.open("a") as f:
            f.write("# a comment that changes nothing\n")
    try:
        result = sh(repo, "dvc", "repro")
    finally:
        sh(repo, "git", "checkout", "--", "reprolab", "stages")
    assert ran(result) == {"plan"}
    sh(repo, "dvc", "repro")  # the plan of the code as committed
    assert sh(repo, "dvc", "status", "--json").stdout.strip() == "{}"


def test_a_plan_edited_by_hand_is_rewritten_and_said_so(repo):
    plan = repo / "data/plan/train@blobs.json"
    committed = plan.read_text()
    plan.write_text(committed.replace('"lr": ', '"lr": 1', 1))
    result = sh(repo, "dvc", "repro")
    assert ran(result) == {"plan"} and plan.read_text() == committed
    said = "data/plan/train@blobs.json: edited by hand; rewritten as the code and params.yaml give it"
    assert said in result.stdout + result.stderr
    assert sh(repo, "git", "status", "--porcelain").stdout == ""


def test_an_edit_reruns_exactly_the_stages_whose_code_it_touches(repo):
    edited = ("reprolab/data/tasks/news.py", "reprolab/learning/loop.py", "reprolab/evaluation/figures.py")
    for path in edited:
        with (repo / path).open("a") as f:
            f.write("\nEDITED = True\n")
    news = {f"{s}@news" for s in TASK_STAGES}
    expected = news | {f"{s}@{t}" for s in ("train", "evaluate") for t in NAMES}
    try:
        said = sh(repo, sys.executable, "-m", "reprolab.plan").stdout  # before anything runs
        assert set(json.loads(sh(repo, "dvc", "status", "--json").stdout)) == {"plan"}  # dvc alone: the plan
        sh(repo, "dvc", "repro", "plan")
        changed = set(json.loads(sh(repo, "dvc", "status", "--json").stdout))
    finally:
        sh(repo, "git", "checkout", "--", *edited)
        sh(repo, "dvc", "repro", "plan")
    assert changed == expected
    assert {line.split(":")[0] for line in said.splitlines()} == expected
    assert "train@blobs: reprolab/learning/loop.py" in said.splitlines()
    assert sh(repo, "dvc", "status", "--json").stdout.strip() == "{}"


def test_forced_rerun_gives_identical_metrics(repo, elsewhere):
    """`dvc repro --force` trains and evaluates every task again (the rebuild above): the same
    metrics, curves and plot data as the first run."""
    other, _, printed = elsewhere
    before = metric_files(repo)
    assert len(before) > 10
    assert {f"{s}@{t}" for s in ("train", "evaluate", "publish") for t in NAMES} <= ran(printed)
    assert metric_files(other) == before


def test_plots_render_from_the_declared_files(repo):
    shown = json.loads(sh(repo, "dvc", "plots", "show", "--json").stdout)
    assert not shown.get("errors")
    figures = {p.relative_to(repo).as_posix() for p in (repo / "plots").glob("*/*.png")}
    assert set(shown["data"]) == {f"plots/{name}/curves.csv" for name in NAMES} | figures
    kinds = {name: task.kind for name, task in TASKS.items()} | own_data.KINDS
    for name, kind in kinds.items():
        (render,) = shown["data"][f"plots/{name}/curves.csv"]
        rows = render["content"]["data"]["values"]
        metrics = {"loss"} | ({"accuracy"} if kind != "regression" else set())
        assert {(r["split"], r["metric"]) for r in rows} == {(s, m) for s in ("train", "val") for m in metrics}
    fits = {"confusion": ("multiclass", "binary"), "roc": ("binary",), "predicted_vs_actual": ("regression",)}
    for figure, fit in fits.items():
        assert {f.split("/")[1] for f in figures if f.endswith(f"/{figure}.png")} == {
            name for name, kind in kinds.items() if kind in fit
        }
