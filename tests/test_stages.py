"""The stages' own logic, run in-process in a scratch directory on fixture data."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from reprolab.core import paths
from reprolab.core.files import load_arrays
from reprolab.data import sources
from reprolab.data.tasks import NAMES
from stages.download import download
from stages.evaluate import evaluate
from stages.featurize import featurize
from stages.publish import publish
from stages.split import split
from stages.train import train
from tests.conftest import ROOT, run_stages
from tests.test_predict import check_predict_gives_what_evaluate_gave


def test_featurize_fits_on_training_rows_only(workdir):
    run_stages("nslkdd", download, split, featurize)
    meta = json.loads((paths.features("nslkdd") / "meta.json").read_text())
    train_rows = pd.read_csv(paths.split("nslkdd") / "train.csv", index_col="id")
    all_rows = pd.concat([train_rows, pd.read_csv(paths.split("nslkdd") / "test.csv", index_col="id")])
    i = meta["encoder"]["numeric"].index("serror_rate")
    assert meta["encoder"]["mean"][i] == pytest.approx(train_rows["serror_rate"].mean())
    assert meta["encoder"]["mean"][i] != pytest.approx(all_rows["serror_rate"].mean())
    i = meta["encoder"]["numeric"].index("src_bytes")  # in features.log: standardized after log(1 + x)
    assert meta["encoder"]["mean"][i] == pytest.approx(np.log1p(train_rows["src_bytes"]).mean())
    assert "num_outbound_cmds" not in meta["feature_names"]  # in features.drop
    assert "service=telnet" not in meta["feature_names"]  # only in the test file
    assert meta["split_metrics"]["test"]["unseen_categories"]["service"] > 0
    test = load_arrays(paths.features("nslkdd") / "test.npz", "featurize@nslkdd")
    assert test["x"].shape == (meta["rows"]["test"], meta["n_features"]) and test["x"].dtype == np.float32


def test_features_can_be_dropped_by_params(workdir):
    data = yaml.safe_load((workdir / "params.yaml").read_text())
    data["tasks"]["advertising"]["features"]["drop"] = ["newspaper"]
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))
    run_stages("advertising", download, split, featurize)
    assert json.loads((paths.features("advertising") / "meta.json").read_text())["feature_names"] == ["TV", "radio"]


@pytest.mark.parametrize("name", NAMES)
def test_each_task_runs_through_every_stage_and_its_model_predicts(workdir, mirror_dir, tmp_path, name):
    run_stages(name, download, split, featurize, train, evaluate, publish)
    results = json.loads(paths.metrics(name).read_text())
    assert set(results) >= {"train", "val"}
    # the headline only, one name for one quantity: what `dvc exp show` prints for the task
    columns = [f"{split}.{key}" for split, values in results.items() for key, value in values.items()]
    assert 4 <= len(columns) <= 8 and all(isinstance(results[c.split(".")[0]][c.split(".")[1]], float) for c in columns)
    assert {"train.loss", "val.loss"} <= set(columns)
    assert set(columns) & {"val.accuracy", "val.r2"}
    assert {key for values in results.values() for key in values} <= {
        "accuracy",
        "macro_f1",
        "roc_auc",
        "loss",
        "r2",
        "rmse",
    }
    details = json.loads((paths.reports(name) / "details.json").read_text())
    assert set(details) == {"model", "metrics", "sources", "training"}  # no wall time: logs/runs.jsonl has it
    assert details["model"]["parameters"] > 0
    card = (paths.reports(name) / "README.md").read_text()
    assert card.startswith(f"# {name}: model card") and "![Loss and accuracy per epoch](curves.png)" in card
    assert f"`python -m reprolab predict {name} INPUT...`" in card and "| lr |" in card
    assert all((paths.reports(name) / image).exists() for image in re.findall(r"\]\(([\w.]+\.png)\)", card))
    if name == "nslkdd":
        assert "## Known limits" in card and "attack types that KDDTrain+ does not" in card
    assert details["training"]["device"] == "cpu" and details["training"]["reproducible"] == "portable"
    assert "torch" not in details["training"]  # its version string differs between two wheels of one release
    if name not in ("advertising",):
        per_class = details["metrics"]["test" if "test" in results else "val"]["per_class"]
        assert {"recall", "precision", "f1", "rows"} <= set(next(iter(per_class.values())))
    checkpoint = torch.load(paths.model(name), weights_only=True)
    assert set(checkpoint) == {"format", "task", "kind", "modality", "classes", "config", "state_dict", "preprocess"}
    curves = pd.read_csv(paths.live(name) / "plots/metrics/val/loss.tsv", sep="\t")
    assert curves["step"].tolist() == [0, 1, 2]
    assert (paths.reports(name) / "curves.png").exists()
    check_predict_gives_what_evaluate_gave(workdir, mirror_dir, tmp_path, name)  # the model file alone


def test_bad_params_stop_a_stage_with_one_line_and_no_output(workdir):
    data = yaml.safe_load((workdir / "params.yaml").read_text())
    data["tasks"]["blobs"]["split"]["vall"] = 0.3
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [sys.executable, "-m", "stages.download", "blobs"],
        cwd=workdir, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "error: download@blobs: params.yaml: tasks.blobs.split.vall: unknown key\n"
    assert not (workdir / "data").exists()


def test_a_failed_download_leaves_no_raw_directory(workdir, monkeypatch, tmp_path):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    monkeypatch.setenv(sources.MIRROR_ENV, str(empty))
    with pytest.raises(Exception, match="has no KDDTrain"):
        run_stages("nslkdd", download)
    assert not paths.raw("nslkdd").exists()
    shutil.rmtree(empty)


def test_an_interrupted_train_stage_resumes_to_the_same_end(trained, monkeypatch, caplog):
    from reprolab.learning import train as train_module

    trained("mnist")  # a whole run

    def curves() -> dict:
        return {p: p.read_bytes() for p in paths.live("mnist").rglob("*") if p.is_file()}

    whole = curves()
    whole_state = torch.load(paths.model("mnist"), weights_only=True)["state_dict"]
    assert not paths.checkpoint("mnist").exists()  # a finished run leaves none

    real_log = train_module.log_epoch

    def interrupted(live, epoch):
        real_log(live, epoch)
        if epoch.epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "log_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_stages("mnist", train)
    assert paths.checkpoint("mnist").exists() and not paths.live("mnist").exists()
    monkeypatch.setattr(train_module, "log_epoch", real_log)
    with caplog.at_level("WARNING"):
        run_stages("mnist", train)
    assert [r.getMessage() for r in caplog.records if "resuming" in r.getMessage()] == [
        "mnist: resuming from checkpoints/mnist.pt after epoch 2 of 3"
    ]
    assert curves() == whole
    state = torch.load(paths.model("mnist"), weights_only=True)["state_dict"]
    assert all(torch.equal(state[k], whole_state[k]) for k in whole_state)


@pytest.mark.e2e  # torchrun and its processes, each starting torch
def test_two_data_parallel_processes_match_one(workdir):
    """torchrun with gloo on the CPU: each process trains on its share of every batch."""
    run_stages("blobs", download, split, featurize)
    summaries = {}
    for processes in (1, 2):
        data = yaml.safe_load((workdir / "params.yaml").read_text())
        data["tasks"]["blobs"]["train"].update(processes=processes, epochs=30)
        (workdir / "params.yaml").write_text(yaml.safe_dump(data))
        run_stages("blobs")  # rewrites the plans (the train settings among them), as the plan stage does
        result = subprocess.run(
            [sys.executable, "-m", "stages.train", "blobs"],
            cwd=workdir, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        summaries[processes] = json.loads((paths.live("blobs") / "metrics.json").read_text())
        assert torch.load(paths.model("blobs"), weights_only=True)["state_dict"]  # written once, by rank 0
    assert summaries[2]["processes"] == 2 and summaries[1]["processes"] == 1
    # full-batch descent on two equal halves averages to the same gradient as on the whole
    assert summaries[2]["val"]["loss"] == pytest.approx(summaries[1]["val"]["loss"], rel=1e-4)
    assert summaries[2]["train"]["accuracy"] == summaries[1]["train"]["accuracy"]


@pytest.mark.e2e  # torchrun and its processes, each starting torch
def test_data_parallel_teardown_waits_for_every_process_run_after_run(workdir):
    """Rank 1 once tore its process group down while rank 0 still wrote the model, and the run
    ended in SIGABRT (seen once, under load, in CI). The barrier before the teardown makes
    every run end cleanly: several short runs in a row, each must exit 0."""
    run_stages("blobs", download, split, featurize)
    data = yaml.safe_load((workdir / "params.yaml").read_text())
    data["tasks"]["blobs"]["train"].update(processes=2, epochs=2)
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))
    run_stages("blobs")
    for attempt in range(4):
        paths.model("blobs").unlink(missing_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "stages.train", "blobs"],
            cwd=workdir, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, f"run {attempt + 1}: {result.stderr[-3000:]}"
        assert paths.model("blobs").is_file()


def test_a_corrupt_checkpoint_is_one_warning_and_a_fresh_start(workdir, caplog):
    run_stages("blobs", download, split, featurize)
    paths.checkpoint("blobs").parent.mkdir(parents=True, exist_ok=True)
    paths.checkpoint("blobs").write_bytes(b"not a checkpoint")
    with caplog.at_level("WARNING"):
        run_stages("blobs", train)
    assert [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()] == [
        "checkpoints/blobs.pt: not a readable checkpoint (UnpicklingError); training from the start"
    ]
    assert paths.model("blobs").exists() and not paths.checkpoint("blobs").exists()


def stage_process(workdir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize(
    ("path", "stage"), [("models/blobs.pt", "train@blobs"), ("data/features/blobs/val.npz", "featurize@blobs")]
)
def test_a_corrupt_model_or_features_file_is_one_line_naming_its_stage(trained, path, stage):
    workdir = trained("blobs")
    (workdir / path).write_bytes(b"garbage")
    result = stage_process(workdir, "stages.evaluate", "blobs")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: evaluate@blobs: {path}: unreadable (")
    assert result.stderr.rstrip().endswith(f"run again the stage that writes it: {stage}")
    assert not paths.metrics("blobs").exists()


def test_sigterm_leaves_no_temporary_file_and_sigkill_leftovers_are_cleaned(workdir):
    script = (
        "import os, signal, time\n"
        "from reprolab.cli import guarded\n"
        "from reprolab.core.files import atomic_path\n"
        "def work():\n"
        "    with atomic_path('out/result') as tmp:\n"
        "        tmp.mkdir()\n"
        "        (tmp / 'half').write_text('x')\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(30)\n"
        "guarded('demo', work)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=workdir, capture_output=True, text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 130 and result.stderr == "error: demo: interrupted\n"
    assert list((workdir / "out").iterdir()) == []
    leftover = workdir / "out" / ".result.tmp-4194305-abc123"  # what a SIGKILL leaves (of a pid now gone)
    leftover.mkdir()
    (leftover / "result").write_text("half")
    from reprolab.core.files import write_text

    write_text(workdir / "out" / "result", "whole")
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["result"]
