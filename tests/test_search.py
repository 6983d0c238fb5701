"""The search (an Optuna study over queued DVC experiments) and the seed summary, with the
experiments faked; the real `dvc exp run --queue` path runs in test_experiments.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from reprolab import experiments, search, seeds
from reprolab.files import UserError
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


def test_a_search_asks_in_batches_reads_validation_only_and_ranks_best_first(workdir, monkeypatch):
    queued: list[dict[str, list[str]]] = []

    def fake_run(runs, targets, jobs):
        queued.append(runs)
        assert targets == ("publish@toy",)
        found = {}
        for i, (name, overrides) in enumerate(runs.items()):
            lr = float(next(o for o in overrides if ".lr=" in o).split("=")[1])
            metrics = {"val": {"accuracy": 1.0 - lr, "loss": lr}, "test": {"accuracy": 0.123}}
            found[name] = None if i == 1 else {"metrics/toy.json": metrics}  # the second of each batch fails
        return found

    monkeypatch.setattr(experiments, "run", fake_run)
    trials = search.search("toy")
    assert [len(runs) for runs in queued] == [4, 2]  # batches of 4, six trials in all
    first = next(iter(queued[0].values()))
    assert first[0] == "seed=42"
    assert any(o.startswith("++tasks.toy.model.hidden=[") for o in first)  # a list travels as its YAML text
    assert any(o in ("++tasks.toy.train.augment=true", "++tasks.toy.train.augment=false") for o in first)
    ok = [t for t in trials if t["val"]]
    assert [t["val"]["accuracy"] for t in ok] == sorted((t["val"]["accuracy"] for t in ok), reverse=True)
    assert [t for t in trials if not t["val"]] == trials[len(ok) :]  # failed trials last
    saved = json.loads((workdir / "reports/search/toy.json").read_text())
    assert saved["trials"] == json.loads(json.dumps(trials))
    assert "0.123" not in (workdir / "reports/search/toy.md").read_text()  # no test figure in sight
    assert sum("failed" in line for line in (workdir / "reports/search/toy.md").read_text().splitlines()) == 2


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
    monkeypatch.setattr(experiments, "run", lambda runs, targets, jobs: dict.fromkeys(runs))
    with pytest.raises(UserError, match=r"the run of seed\(s\) 1, 2 failed"):
        seeds.run_seeds([1, 2])


def test_a_grid_runs_every_combination_once(workdir, monkeypatch):
    space = {"metric": "val.loss", "direction": "minimize", "trials": 4, "batch": 3, "sampler": "grid"}
    space["space"] = {"train.lr": {"choices": [0.1, 0.01]}, "model.dropout": {"choices": [0.0, 0.5]}}
    (workdir / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "toy": space}))
    monkeypatch.setattr(
        experiments, "run", lambda runs, targets, jobs: {n: {"metrics/toy.json": {"val": {"loss": 1.0}}} for n in runs}
    )
    trials = search.search("toy")
    assert sorted((t["params"]["train.lr"], t["params"]["model.dropout"]) for t in trials) == [
        (0.01, 0.0), (0.01, 0.5), (0.1, 0.0), (0.1, 0.5),
    ]  # fmt: skip


def test_a_variant_fixes_params_of_its_task_and_each_trial_is_its_mean_over_seeds(workdir, monkeypatch):
    space = {"task": "toy", "set": {"model.name": "mlp"}, "seeds": [42, 43], "metric": "val.loss"}
    space |= {"direction": "minimize", "trials": 2, "batch": 2, "sampler": "grid"}
    space["space"] = {"train.lr": {"choices": [0.1, 0.01]}}
    (workdir / "search.yaml").write_text(yaml.safe_dump({"seed": 42, "toy-mlp": space}))
    queued = {}

    def fake_run(runs, targets, jobs):
        assert targets == ("publish@toy",)
        queued.update(runs)
        loss = {n: float(o[0].removeprefix("seed=")) / 100 + float(o[-1].split("=")[1]) for n, o in runs.items()}
        return {n: {"metrics/toy.json": {"val": {"loss": v}, "test": {"loss": 0.0}}} for n, v in loss.items()}

    monkeypatch.setattr(experiments, "run", fake_run)
    trials = search.search("toy-mlp")
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
    monkeypatch.setattr(seeds, "run_seeds", lambda *args: ran.setdefault("args", args))
    monkeypatch.setattr("sys.argv", ["seeds", "--variant", "toy-mlp", "--seeds", "7"])
    seeds.main()
    assert ran["args"] == (
        [7], 1, ("publish@toy",), ("++tasks.toy.model.name=mlp", "++tasks.toy.train.lr=0.01"),
        Path("reports/seeds-toy-mlp.json"),
    )  # fmt: skip
