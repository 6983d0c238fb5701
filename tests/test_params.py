from pathlib import Path

import pytest
import yaml

from reprolab.core import params
from reprolab.core.errors import UserError
from reprolab.data import tasks
from reprolab.learning import models

MODELS = models.entries()

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def error(data) -> str:
    with pytest.raises(UserError) as caught:
        params.validate(data, tasks.every(), complete=True, models=MODELS)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_repository_params_are_valid():
    checked = params.load(tasks.every(), ROOT / "params.yaml", complete=True, models=MODELS)
    assert checked.device in ("auto", "cpu", "cuda", "mps")


def test_task_overrides_win_over_defaults(data):
    data["train"]["lr"] = 0.3
    data["tasks"]["nslkdd"]["train"] = {"lr": 0.05}
    data["tasks"]["advertising"]["train"] = {}
    checked = params.validate(data, tasks.every())
    assert checked.train_for("nslkdd").lr == 0.05
    assert checked.train_for("advertising").lr == 0.3
    assert checked.train_for("nslkdd").epochs == data["train"]["epochs"]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("train", "lrr"), 0.5, "train.lrr: unknown key"),
        (("surprise",), 1, "surprise: unknown key"),
        (("tasks", "nslkdd", "train", "lrr"), 0.5, "tasks.nslkdd.train.lrr: unknown key"),
        (("tasks", "nslkdd", "model", "hiden"), [3], "tasks.nslkdd.model.hiden: unknown key"),
        (("train", "lr"), -1.0, "train.lr: Input should be greater than 0"),
        (("train", "lr"), "fast", "train.lr: Input should be a valid number"),
        (("train", "epochs"), 1.5, "train.epochs: Input should be a valid integer"),
        (("train", "optimizer"), "lbfgs", "train.optimizer: Input should be 'sgd'"),
        (("device",), "tpu", "device: Input should be 'auto'"),
        (("tasks", "blobs", "split", "val"), 0.0, "tasks.blobs.split.val: Input should be greater than 0"),
        (("tasks", "blobs", "source", "n_samples"), 2, "tasks.blobs.source.n_samples"),
        (("tasks", "nslkdd", "train", "momentum"), 1.0, "tasks.nslkdd.train.momentum: Input should be less than 1"),
        (("train", "lr"), float("inf"), "train.lr: Input should be a finite number"),
        (("train", "weight_decay"), float("nan"), "train.weight_decay: Input should be a finite number"),
        (("tasks", "nslkdd", "train", "lr"), float("inf"), "tasks.nslkdd.train.lr: Input should be a finite number"),
        (("train", "threads"), 100000, "train.threads: Input should be less than or equal to 1024"),
        (("tasks", "nslkdd", "train", "label_smoothing"), 0.1, "tasks.nslkdd.train.label_smoothing: for multiclass"),
        (("train", "label_smoothing"), 1.0, "train.label_smoothing: Input should be less than 1"),
        (("train", "scheduler"), "linear", "train.scheduler: Input should be 'none', 'cosine', 'step' or 'onecycle'"),
        (("tasks", "news", "features", "chars"), [5, 3], "tasks.news.features: chars: [min, max] with min <= max"),
        (("tasks", "cifar10", "train", "crop_padding"), 20, "crop_padding: Input should be less than or equal to 16"),
        (("tasks", "mnist", "model", "threshold"), 0.3, "tasks.mnist.model.threshold: for binary tasks only"),
        (("tasks", "nslkdd", "model", "threshold"), 1.0, "tasks.nslkdd.model.threshold: Input should be less than 1"),
        (("tasks", "mnist", "split", "holdout"), ["7"], "tasks.mnist.split.holdout: mnist has no groups to hold out"),
        (("tasks", "nslkdd", "model", "tta"), True, "tasks.nslkdd.model.tta: no model of table data takes it (nslkdd)"),
        (
            ("tasks", "news", "model", "channels"),
            [8],
            "tasks.news.model.channels: no model of text data takes it (news)",
        ),
        (("tasks", "mnist", "model", "dim"), 8, "tasks.mnist.model.dim: no model of image data takes it (mnist)"),
        (("tasks", "nslkdd", "train", "flip"), True, "tasks.nslkdd.train.flip: for images only, nslkdd has table data"),
        (("tasks", "news", "train", "augment"), False, "tasks.news.train.augment: for images only, news has text data"),
        (("train", "augment"), True, "tasks.blobs.train.augment: for images only, blobs has table data"),
    ],
)
def test_bad_values_name_the_key_and_the_reason(data, path, value, expected):
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert expected in error(data)


def test_a_missing_block_is_named(data):
    del data["tasks"]["advertising"]["split"]
    assert "tasks.advertising.split: missing" in error(data)


def test_fractions_must_leave_training_rows(data):
    data["tasks"]["advertising"]["split"].update(val=0.5, test=0.5)
    assert "tasks.advertising.split: val + test must be below 1" in error(data)


def test_a_task_with_its_own_test_file_takes_no_test_fraction(data):
    data["tasks"]["nslkdd"]["split"]["test"] = 0.1
    assert "tasks.nslkdd.split.test: must be 0" in error(data)


def test_broken_yaml_is_one_line(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        params.load(tasks.every(), bad)


def test_a_task_stage_checks_its_own_block_and_the_params_stage_every_block(data):
    data["tasks"]["news"]["model"]["hiden"] = [3]
    one = {"blobs": tasks.get("blobs")}
    assert params.validate(data, one).task("blobs").model.name == "linear"  # news is not blobs' business
    data["train"]["lrr"] = 0.5
    with pytest.raises(UserError, match="train.lrr: unknown key"):
        params.validate(data, one)
    del data["train"]["lrr"]
    assert "tasks.news.model.hiden: unknown key" in error(data)
    data["tasks"]["newz"] = data["tasks"].pop("news")
    assert "tasks.newz: unknown key" in error(data)


def test_each_model_takes_the_keys_its_registry_entry_names():
    """A model's entry is what the schema lets its block hold: each builder takes exactly its
    entry's keys and features besides the data's shape, and each key is a field of the schema."""
    import importlib
    import inspect

    for name, e in MODELS.items():
        builder = getattr(importlib.import_module(f"reprolab.learning.models.{e.module}"), name)
        takes = set(inspect.signature(builder).parameters) - {"n_in", "n_out"}
        assert takes == set(e.keys) | set(e.features), name
        assert set(e.keys) <= set(params.ModelParams.model_fields), name
    assert set(MODELS) == {"linear", "mlp", "cnn", "airbench", "resnet18", "slp", "bag", "fasttext"}


def test_a_model_name_no_entry_holds_is_refused_naming_the_models(data):
    data["tasks"]["blobs"]["model"]["name"] = "mpl"
    assert error(data) == (
        "params.yaml: tasks.blobs.model.name: no model 'mpl'; the models are: "
        "linear, mlp, cnn, airbench, resnet18, slp, bag, fasttext"
    )


def test_the_schema_reads_the_model_registry_without_torch():
    import subprocess
    import sys

    code = "from reprolab.learning import models; models.entries(); import sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_block_holds_the_keys_of_the_models_its_task_switches_between(data):
    """mnist's block is airbench's; `-S tasks.mnist.model.name=mlp` leaves channels unread."""
    data["tasks"]["mnist"]["model"].update(name="mlp", tta=True)
    assert params.validate(data, tasks.every(), complete=True, models=MODELS).task("mnist").model.channels == [
        32,
        64,
        64,
    ]
