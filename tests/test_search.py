"""The search (an Optuna study over queued DVC experiments) and the seed summary, with the
experiments faked; the real `dvc exp run --queue` path runs in test_experiments.py."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from reprolab.core.errors import UserError
from reprolab.experiments import runs as experiments
from reprolab.experiments import search, seeds, studies
from tests.conftest import ROOT

SPACE = {
    "seed": 42,
    "toy": {
        "metric": "val.accuracy",
        "direction": "maximize",
        "trials": 6,
        "batch": 4,
        "space": {
            "train.lr": {"low": 0.001, "high": 0.1, "log": True},
            "model.hidden": {"choices": [[8], [16, 8]]},
            "train.augment": {"choices": [True, False]},
        },
    },
}


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(SPACE))
    return tmp_path


class FakeDvc:
    """experiments' dvc calls, faked: each run's metrics are `figure(overrides)` (None: it fails);
    the studies are real (Optuna's SQLite default, in the test's folder)."""

    def __init__(self, monkeypatch, figure) -> None:
        self.figure, self.runs, self.made = figure, {}, {}
        monkeypatch.setattr(experiments, "head", lambda: "0" * 40)
        monkeypatch.setattr(experiments, "run", self.run)
        monkeypatch.setattr(experiments, "metrics", lambda names, rev="HEAD": {n: self.made.get(n) for n in names})

    def run(self, name, overrides, targets=()):
        assert name not in self.runs, f"{name} twice"
        self.runs[name] = (list(overrides), targets)
        found = self.figure(overrides)
        if found is None:
            raise experiments.ExperimentFailed(f"{name}: failed")
        self.made[name] = found
        return experiments.Run(name, found, ["train@toy"], [])


def lr_of(overrides: list[str]) -> float:
    return float(next(o for o in overrides if ".lr=" in o).split("=")[1])


def test_a_search_reads_validation_only_and_ranks_best_first(workdir, monkeypatch):
    def figure(overrides):
        lr = lr_of(overrides)
        return {"metrics/toy.json": {"val": {"accuracy": 1.0 - lr, "loss": lr}, "test": {"accuracy": 0.123}}}

    fake = FakeDvc(monkeypatch, lambda o: figure(o) if len(fake.runs) != 2 else None)  # the second run fails
    trials = search.search("toy")
    assert len(fake.runs) == 7 and all(targets == ("publish@toy",) for _, targets in fake.runs.values())
    first = next(iter(fake.runs.values()))[0]
    assert first[0] == "seed=42"
    assert any(o.startswith("++tasks.toy.model.hidden=[") for o in first)  # a list travels as its YAML text
    assert any(o in ("++tasks.toy.train.augment=true", "++tasks.toy.train.augment=false") for o in first)
    ok = [t for t in trials if t["val"]]
    assert len(ok) == 6  # complete trials: as many as search.yaml says; the failed one is not counted
    assert [t["val"]["accuracy"] for t in ok] == sorted((t["val"]["accuracy"] for t in ok), reverse=True)
    assert [t for t in trials if not t["val"]] == trials[len(ok) :]  # failed trials last
    saved = json.loads((workdir / "reports/search/toy.json").read_text())
    assert saved["trials"] == json.loads(json.dumps(trials))
    assert "0.123" not in (workdir / "reports/search/toy.md").read_text()  # no test figure in sight
    assert sum("failed" in line for line in (workdir / "reports/search/toy.md").read_text().splitlines()) == 1


def test_a_search_cut_short_goes_on_with_the_trials_it_had(workdir, monkeypatch):
    """On the embedded default (a SQLite file under .dvc/tmp): interrupted during its fourth
    trial, started again, it runs only the trials it lacks and its table holds all six."""

    def figure(overrides):
        if len(fake.runs) == 4 and not resumed:
            raise KeyboardInterrupt
        return {"metrics/toy.json": {"val": {"accuracy": 1.0 - lr_of(overrides)}}}

    resumed = False
    fake = FakeDvc(monkeypatch, figure)
    with pytest.raises(KeyboardInterrupt):
        search.search("toy")
    assert (workdir / ".dvc/tmp/studies.db").is_file()
    before = set(fake.runs)
    resumed = True
    trials = search.search("toy")
    assert len(fake.runs) == 4 + 3  # three trials done, the interrupted one and two more
    assert {t["experiment"] for t in trials} >= before - {list(fake.runs)[3]}
    assert len(trials) == 6 and all(t["val"] for t in trials)
    again = search.search("toy")  # complete: nothing more runs
    assert len(fake.runs) == 7 and again == trials


def test_a_study_of_that_name_from_another_search_is_refused(workdir, monkeypatch):
    FakeDvc(monkeypatch, lambda o: {"metrics/toy.json": {"val": {"accuracy": 0.5}}})
    search.search("toy", trials=1)
    changed = json.loads(json.dumps(SPACE))
    changed["toy"]["space"]["train.lr"]["high"] = 0.5
    (workdir / "search.yaml").write_text(yaml.safe_dump(changed))
    with pytest.raises(UserError, match=r"^study toy: its stored space differ from this one's"):
        search.search("toy", trials=2)
    changed["toy"]["direction"] = "minimize"
    (workdir / "search.yaml").write_text(yaml.safe_dump(changed))
    with pytest.raises(UserError, match=r"^study toy: stored to maximize, asked to minimize"):
        search.search("toy", trials=2)


def test_an_unreachable_database_is_one_line_with_its_password_masked():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://reprolab:s3cret@127.0.0.1:{port}/studies"
    with pytest.raises(UserError) as raised:
        studies.storage(url)
    said = str(raised.value)
    assert said.startswith(f"the study storage postgresql+psycopg://reprolab:***@127.0.0.1:{port}/studies: ")
    assert "s3cret" not in said and "\n" not in said, said


def test_a_search_space_must_name_its_metric(workdir):
    (workdir / "search.yaml").write_text(yaml.safe_dump({"seed": 1, "toy": {"space": {}}}))
    with pytest.raises(UserError, match="search.yaml: needs seed, and toy: metric, direction, trials and space"):
        search.load_space("toy")


def test_the_committed_search_spaces_parse_and_name_params_of_their_task():
    spaces = yaml.safe_load((ROOT / "search.yaml").read_text())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert spaces.pop("seed") not in (1, 2, 3)  # the seeds the reported figures average over
    for name, spec in spaces.items():
        task = spec.get("task", name)
        assert task in params["tasks"], name
        assert all(s not in (1, 2, 3) for s in spec.get("seeds", [])), name
        search.load_space(name, ROOT / "search.yaml")
        assert spec["metric"].startswith("val."), f"{task}: a search chooses on validation figures only"
        for key in [*spec["space"], *spec.get("set", {})]:
            section, _, param = key.partition(".")
            assert section in ("train", "model", "features", "split") and param, key


def test_the_seed_summary_is_mean_and_sample_std_of_every_metric_all_seeds_have():
    runs = {
        1: {"metrics/a.json": {"test": {"accuracy": 0.90}, "val": {"accuracy": 0.8}}},
        2: {"metrics/a.json": {"test": {"accuracy": 0.92}}},
        3: {"metrics/a.json": {"test": {"accuracy": 0.94}}},
    }
    summary = seeds.summarise(runs)
    assert list(summary["metrics/a.json"]) == ["test.accuracy"]  # val.accuracy: only one seed has it
    figure = summary["metrics/a.json"]["test.accuracy"]
    assert figure["values"] == [0.90, 0.92, 0.94]
    assert figure["mean"] == pytest.approx(0.92) and figure["std"] == pytest.approx(0.02)


def test_a_failed_seed_stops_with_one_line(workdir, monkeypatch):
    FakeDvc(monkeypatch, lambda overrides: None)
    with pytest.raises(UserError, match=r"^the run of a seed failed: seed-1-\d{8}-\d{6}-[0-9a-f]{4}-0: failed \("):
        seeds.run_seeds([1, 2])


def test_seeds_are_jobs_of_a_study_and_a_repeat_runs_them_again(workdir, monkeypatch):
    fake = FakeDvc(monkeypatch, lambda o: {"metrics/a.json": {"test": {"accuracy": int(o[0][5:]) / 10}}})
    first = seeds.run_seeds([1, 2, 3], ("publish@toy",), ("++tasks.toy.train.lr=0.1",))
    assert [o for o, _ in fake.runs.values()] == [[f"seed={s}", "++tasks.toy.train.lr=0.1"] for s in (1, 2, 3)]
    assert first["metrics"]["metrics/a.json"]["test.accuracy"]["values"] == [0.1, 0.2, 0.3]
    again = seeds.run_seeds([1, 2, 3], ("publish@toy",), ("++tasks.toy.train.lr=0.1",))
    assert len(fake.runs) == 6 and again == first  # run again (restored from the run cache, in a real clone)


def test_a_task_run_replaces_that_tasks_figures_and_keeps_the_others(workdir, monkeypatch):
    def figures(overrides, shift=0.0):  # two tasks' test accuracy: the seed's tenth, plus shift
        seed = int(overrides[0].removeprefix("seed="))
        return {f"metrics/{name}.json": {"test": {"accuracy": seed / 10 + shift}} for name in ("a", "b")}

    FakeDvc(monkeypatch, figures)
    whole = seeds.run_seeds([1, 2, 3])
    FakeDvc(monkeypatch, lambda o: figures(o, 0.5))
    monkeypatch.setattr(experiments, "head", lambda: "1" * 40)  # a later commit that only b sees
    seeds.run_seeds([1, 2, 3], ("publish@b",), task="b")
    summary = json.loads((workdir / "reports/seeds.json").read_text())
    assert summary["metrics"]["metrics/a.json"] == whole["metrics"]["metrics/a.json"]  # a's run, not b's
    assert summary["metrics"]["metrics/b.json"]["test.accuracy"]["values"] == [0.6, 0.7, 0.8]
    assert summary["revisions"] == {"metrics/a.json": "0" * 40, "metrics/b.json": "1" * 40}
    assert summary["targets"] == [] and summary["seeds"] == [1, 2, 3]
    with pytest.raises(UserError, match=r"^reports/seeds.json holds seeds 1 2 3 with overrides none: a task's"):
        seeds.run_seeds([4, 5], ("publish@b",), task="b")
    assert json.loads((workdir / "reports/seeds.json").read_text()) == summary


def test_a_grid_runs_every_combination_once(workdir, monkeypatch):
    space = {"metric": "val.loss", "direction": "minimize", "trials": 4, "batch": 3, "sampler": "grid"}
    space["space"] = {"train.lr": {"choices": [0.1, 0.01]}, "model.dropout": {"choices": [0.0, 0.5]}}
    (workdir / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "toy": space}))
    FakeDvc(monkeypatch, lambda overrides: {"metrics/toy.json": {"val": {"loss": 1.0}}})
    trials = search.search("toy")
    assert sorted((t["params"]["train.lr"], t["params"]["model.dropout"]) for t in trials) == [
        (0.01, 0.0), (0.01, 0.5), (0.1, 0.0), (0.1, 0.5),
    ]  # fmt: skip


def test_a_long_list_choice_reaches_dvc_on_one_line(workdir, monkeypatch):
    columns = [f"a_rather_long_column_name_{i}" for i in range(8)]  # PyYAML would wrap it at 80 columns
    space = {"metric": "val.loss", "direction": "minimize", "trials": 1, "batch": 1, "sampler": "grid"}
    space["space"] = {"features.drop": {"choices": [columns]}}
    (workdir / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "toy": space}))
    seen = []
    FakeDvc(monkeypatch, lambda overrides: seen.extend(overrides) or {"metrics/toy.json": {"val": {"loss": 1.0}}})
    search.search("toy")
    assert f"++tasks.toy.features.drop=[{', '.join(columns)}]" in seen


def test_a_run_is_looked_up_under_the_commit_it_ran_on(monkeypatch):
    """A commit made while `dvc exp run` goes on (seen: make seeds failed after training seed 2,
    "ran, but dvc exp show has no metrics of it"): dvc exp show lists one commit's experiments."""
    monkeypatch.setattr(experiments, "head", lambda: "0" * 40)

    def dvc_exp_run(args, **options):
        monkeypatch.setattr(experiments, "head", lambda: "1" * 40)  # the user commits meanwhile
        return subprocess.CompletedProcess(args, 0, "Running stage 'train@toy':\n", "")

    monkeypatch.setattr(experiments.subprocess, "run", dvc_exp_run)
    figures = {"metrics/toy.json": {"val": {"loss": 1.0}}}
    monkeypatch.setattr(
        experiments, "metrics", lambda names, rev: {n: figures if rev == "0" * 40 else None for n in names}
    )
    done = experiments.run("seed-2", ["seed=2"])
    assert done.metrics == figures and done.ran == ["train@toy"]


@pytest.mark.parametrize("what", ["search toy", "make seeds"])
def test_a_commit_made_while_runs_go_on_stops_them_with_one_line(workdir, monkeypatch, what):
    space = {"metric": "val.loss", "direction": "minimize", "trials": 3, "batch": 1, "sampler": "grid"}
    space["space"] = {"train.lr": {"choices": [0.1, 0.01, 0.001]}}
    (workdir / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "toy": space}))

    def figure(overrides):  # the user commits while the first run goes on
        monkeypatch.setattr(experiments, "head", lambda: "1" * 40)
        return {"metrics/toy.json": {"val": {"loss": 1.0}}}

    fake = FakeDvc(monkeypatch, figure)
    with pytest.raises(UserError, match=f"^{what}: HEAD moved from 000000000000 to 111111111111 while it ran"):
        search.search("toy") if what.startswith("search") else seeds.run_seeds([1, 2, 3])
    assert len(fake.runs) == 1  # none ran on the other commit


def test_a_variant_fixes_params_of_its_task_and_each_trial_is_its_mean_over_seeds(workdir, monkeypatch):
    space = {"task": "toy", "set": {"model.name": "mlp"}, "seeds": [42, 43], "metric": "val.loss"}
    space |= {"direction": "minimize", "trials": 2, "batch": 2, "sampler": "grid"}
    space["space"] = {"train.lr": {"choices": [0.1, 0.01]}}
    (workdir / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "toy-mlp": space}))

    def figure(o):
        loss = float(o[0].removeprefix("seed=")) / 100 + float(o[-1].split("=")[1])
        return {"metrics/toy.json": {"val": {"loss": loss}, "test": {"loss": 0.0}}}

    fake = FakeDvc(monkeypatch, figure)
    trials = search.search("toy-mlp")
    queued = {name: overrides for name, (overrides, _) in fake.runs.items()}
    assert len(queued) == 4  # two trials, two seeds each
    assert all(o[1] == "++tasks.toy.model.name=mlp" for o in queued.values())
    assert {o[0] for o in queued.values()} == {"seed=42", "seed=43"}
    assert [t["params"]["train.lr"] for t in trials] == [0.01, 0.1]
    assert trials[0]["val"]["loss"] == pytest.approx(0.01 + 0.425)  # the mean of seeds 42 and 43
    assert len(trials[0]["experiments"]) == 2 and trials[0]["experiment"] in trials[0]["experiments"]
    saved = json.loads((workdir / "reports/search/toy-mlp.json").read_text())
    assert saved["task"] == "toy" and saved["set"] == {"model.name": "mlp"} and saved["seeds"] == [42, 43]


def test_a_fixed_list_travels_as_one_override_on_one_line():
    names = [f"attack_type_{i}" for i in range(12)]  # longer than YAML's default line width
    assert search.override("toy", "split.holdout", names) == f"++tasks.toy.split.holdout=[{', '.join(names)}]"


def test_a_variant_runs_with_its_fixed_params_and_its_best_trial(workdir, monkeypatch):
    space = {"task": "toy", "set": {"model.name": "mlp"}, "metric": "val.loss", "direction": "minimize"}
    space |= {"trials": 2, "space": {"train.lr": {"choices": [0.1, 0.01]}}}
    (workdir / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "toy-mlp": space}))
    with pytest.raises(UserError, match="no trial"):
        search.chosen("toy-mlp")
    best = {"trials": [{"params": {"train.lr": 0.01}}, {"params": {"train.lr": 0.1}}]}
    (workdir / "reports/search").mkdir(parents=True)
    (workdir / "reports/search/toy-mlp.json").write_text(json.dumps(best))
    assert search.chosen("toy-mlp") == ("toy", ["++tasks.toy.model.name=mlp", "++tasks.toy.train.lr=0.01"])
    ran = {}
    monkeypatch.setattr(seeds, "run_seeds", lambda *args: ran.__setitem__("args", args))
    monkeypatch.setattr("sys.argv", ["seeds", "--variant", "toy-mlp", "--seeds", "7"])
    seeds.main()
    assert ran["args"][:4] == (
        [7], ("publish@toy",), ("++tasks.toy.model.name=mlp", "++tasks.toy.train.lr=0.01"),
        Path("reports/seeds-toy-mlp.json"),
    )  # fmt: skip
    monkeypatch.setattr("sys.argv", ["seeds", "--task", "news"])
    seeds.main()
    assert ran["args"][1] == ("publish@news",) and ran["args"][3] == Path("reports/seeds.json")
    assert ran["args"][-1] == "news"  # its figures replace news's in reports/seeds.json
