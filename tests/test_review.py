"""The pull-request report and its regression gate, on a temporary git repository with
two commits whose metrics differ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprolab.pages.review import Change, Rule, check_rules, load_rules, regressions
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

RULES = [Rule("metrics/*.json:test.accuracy", True, 0.005), Rule("metrics/*.json:test.rmse", False, 0.05)]


def test_the_gate_compares_in_the_right_direction():
    changes = [
        Change("metrics/a.json:test.accuracy", 0.90, 0.896),  # within half a point
        Change("metrics/b.json:test.accuracy", 0.90, 0.89),  # a point down
        Change("metrics/c.json:test.rmse", 1.0, 1.2),  # error up
        Change("metrics/c.json:test.rmse", 1.0, 0.5),  # error down: better
        Change("metrics/d.json:train.loss", 0.1, 9.0),  # no rule
        Change("metrics/e.json:test.accuracy", None, 0.5),  # new metric
    ]
    assert regressions(changes, RULES) == [
        "metrics/b.json:test.accuracy: 0.9 -> 0.89 (worse by 0.01, allowed 0.005: the tolerance)",
        "metrics/c.json:test.rmse: 1.0 -> 1.2 (worse by 0.2, allowed 0.05: the tolerance)",
    ]


def test_a_drop_within_the_seed_noise_is_not_a_regression():
    spread = {"metrics/b.json:test.accuracy": 0.004, "metrics/c.json:test.rmse": 0.001}
    within = [Change("metrics/b.json:test.accuracy", 0.90, 0.893)]  # 0.007: over the tolerance, within 2 std
    assert regressions(within, RULES)  # without the seeds' spread: a regression
    assert regressions(within, RULES, spread, noise=2.0) == []
    beyond = [Change("metrics/b.json:test.accuracy", 0.90, 0.891), Change("metrics/c.json:test.rmse", 1.0, 1.06)]
    assert regressions(beyond, RULES, spread, noise=2.0) == [
        "metrics/b.json:test.accuracy: 0.9 -> 0.891 (worse by 0.009, allowed 0.008: 2 x the seed std 0.004)",
        # a metric the seeds hardly move keeps its rule's tolerance: the larger of the two applies
        "metrics/c.json:test.rmse: 1.0 -> 1.06 (worse by 0.06, allowed 0.05: the tolerance)",
    ]
    assert regressions(within, RULES, spread, noise=0.0)  # noise 0: the rules alone


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def two_commits(tmp_path) -> Path:
    """main holds accuracy 0.90; the branch `change` moves on to 0.88 with a new lr."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "CI")
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    (repo / "gate.yaml").write_text(
        'rules:\n  - {match: "metrics/*.json:test.accuracy", higher_is_better: true, tolerance: 0.005}\n'
    )
    (repo / "dvc.yaml").write_text(
        "metrics:\n  - metrics/task.json\n  - metrics/other.json\nplots:\n"
        "  - plots/task/curves.csv:\n      x: epoch\n      y: value\n"
        "  - plots/other/curves.csv:\n      x: epoch\n      y: value\n"
    )
    (repo / "metrics/other.json").parent.mkdir()
    (repo / "metrics/other.json").write_text(json.dumps({"test": {"accuracy": 0.5}}))
    for task in ("task", "other"):
        (repo / "plots" / task).mkdir(parents=True)
    curves = "epoch,split,metric,value\n1,train,loss,1.0\n2,train,loss,{}\n"
    (repo / "plots/other/curves.csv").write_text(curves.format(0.5))  # a task this change leaves alone

    def commit(lr: float, accuracy: float, message: str) -> None:
        (repo / "params.yaml").write_text(f"train:\n  lr: {lr}\n")
        (repo / "metrics/task.json").write_text(json.dumps({"test": {"accuracy": accuracy}}))
        (repo / "plots/task/curves.csv").write_text(curves.format(1 - accuracy))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", message)

    commit(0.1, 0.90, "base")
    git(repo, "checkout", "-q", "-b", "change")
    commit(0.5, 0.88, "raise lr")
    return repo


def report(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "reprolab.pages.review", "--base", "main", *args],
        cwd=repo, capture_output=True, text=True,
        env={**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"},
    )  # fmt: skip


def test_a_regression_fails_the_report_and_is_named(two_commits):
    result = report(two_commits)
    assert result.returncode == 1, result.stderr
    assert "regression: metrics/task.json:test.accuracy: 0.9 -> 0.88" in result.stderr
    text = (two_commits / "report/report.md").read_text()
    assert "| params.yaml:train.lr | 0.1 | 0.5 |" in text
    assert "| metrics/task.json:test.accuracy | 0.9 | 0.88 | -0.02 |" in text
    png = (two_commits / "report/task-curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert not (two_commits / "report/other-curves.png").exists()  # curves only of what changed


def test_the_base_is_the_merge_base_not_the_previous_commit(two_commits):
    (two_commits / "metrics/task.json").write_text(json.dumps({"test": {"accuracy": 0.899}}))
    git(two_commits, "commit", "-qam", "recover")  # HEAD~1 had 0.88; main has 0.90
    result = report(two_commits, "--no-plots")
    assert result.returncode == 0, result.stderr
    assert "| metrics/task.json:test.accuracy | 0.9 | 0.899 |" in (two_commits / "report/report.md").read_text()


def _seeds(std: float) -> str:
    return json.dumps({"seeds": [1, 2, 3], "metrics": {"metrics/task.json": {"test.accuracy": {"std": std}}}})


def test_the_gate_allows_the_seed_noise_measured_at_the_base(two_commits):
    """main's reports/seeds.json says test accuracy moves by 0.015 (one std) from seed to seed:
    with noise 2 the branch's drop of 0.02 is within it. A spread claimed by the branch itself
    does not count."""
    (two_commits / "gate.yaml").write_text("noise: 2\n" + (two_commits / "gate.yaml").read_text())
    git(two_commits, "commit", "-qam", "gate with noise")
    assert report(two_commits, "--no-plots").returncode == 1  # no seeds.json at the base: the tolerance only
    (two_commits / "reports").mkdir()
    (two_commits / "reports/seeds.json").write_text(_seeds(0.015))
    git(two_commits, "add", "-A")
    git(two_commits, "commit", "-qm", "the branch claims a wide spread")
    assert report(two_commits, "--no-plots").returncode == 1

    git(two_commits, "checkout", "-q", "main")
    (two_commits / "reports").mkdir(exist_ok=True)
    (two_commits / "reports/seeds.json").write_text(_seeds(0.015))
    git(two_commits, "add", "reports/seeds.json")
    git(two_commits, "commit", "-qm", "seeds measured on main")
    git(two_commits, "checkout", "-q", "change")
    git(two_commits, "merge", "-q", "-X", "ours", "-m", "merge main", "main")
    result = report(two_commits, "--no-plots")
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_negative_noise_is_refused(two_commits):
    (two_commits / "gate.yaml").write_text("noise: -1\n" + (two_commits / "gate.yaml").read_text())
    result = report(two_commits, "--no-plots")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: report: gate.yaml: noise: must be 0 or more (got -1.0)"


def test_a_rule_that_matches_no_metric_is_an_error(two_commits):
    with (two_commits / "gate.yaml").open("a") as gate:
        gate.write("  - {match: 'metrics/*.json:test.acc', higher_is_better: true, tolerance: 0.005}\n")
    result = report(two_commits, "--no-plots")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: report: gate.yaml: rule 2 (metrics/*.json:test.acc) matches no metric that dvc.yaml declares"
    ]
    assert not (two_commits / "report/report.md").exists()


def test_every_rule_of_the_gate_matches_a_committed_metric():
    names = [
        f"{path.relative_to(ROOT).as_posix()}:{split}.{key}"
        for path in sorted((ROOT / "metrics").glob("*.json"))
        for split, values in json.loads(path.read_text()).items()
        for key in values
    ]
    check_rules(load_rules(ROOT / "gate.yaml"), names, ROOT / "gate.yaml")


def check_workflow(path: Path) -> subprocess.CompletedProcess:
    checker = Path(sys.executable).parent / "check-jsonschema"
    schema = ["--builtin-schema", "vendor.github-workflows"]
    return subprocess.run([str(checker), *schema, str(path)], capture_output=True, text=True)


def test_the_pull_request_workflow_is_valid():
    """Offline: against the GitHub workflow schema that check-jsonschema vendors."""
    workflow = ROOT / ".github/workflows/pipeline.yml"
    result = check_workflow(workflow)
    assert result.returncode == 0, result.stdout + result.stderr
    text = workflow.read_text()
    assert "fetch-depth: 0" in text and "make report" in text and "cml comment create" in text


def test_actions_are_pinned_by_commit_and_checkout_keeps_no_credentials():
    import re

    for workflow in (ROOT / ".github/workflows").glob("*.yml"):
        text = workflow.read_text()
        uses = re.findall(r"uses: (\S+)(.*)", text)
        assert uses, workflow
        for action, comment in uses:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{workflow.name}: {action} is not pinned"
            assert re.fullmatch(r"\s+# v[\d.]+", comment), f"{workflow.name}: {action} needs its tag as a comment"
        checkout = text.split("actions/checkout@", 1)[1].split("- uses:", 1)[0]
        assert "persist-credentials: false" in checkout


def test_a_broken_workflow_is_caught(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: pull_request\njobs:\n  report:\n    steps: []\n")  # no runs-on
    assert check_workflow(broken).returncode != 0
