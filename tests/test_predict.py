"""`reprolab predict`: the model file alone, applied to inputs as a user holds them, gives
exactly what `evaluate` gave on the test inputs; bad input is one line and no output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from reprolab import paths, prediction
from reprolab.files import UserError
from stages.download import download
from stages.featurize import featurize
from stages.split import split
from stages.train import train
from tests.conftest import ROOT, run_stages


def write_pngs(name: str, split_name: str, folder) -> None:
    from PIL import Image

    folder.mkdir()
    with np.load(paths.split(name) / f"{split_name}.npz") as data:
        for i, pixels in enumerate(data["pixels"]):
            image = Image.fromarray(pixels[0]) if pixels.shape[0] == 1 else Image.fromarray(pixels.transpose(1, 2, 0))
            image.save(folder / f"{i:05d}.png")


def raw_inputs(name: str, final: str, mirror_dir, tmp_path) -> list:
    """The final split's inputs as a user holds them, outside data/."""
    if name == "nslkdd":
        return [mirror_dir / "KDDTest+.txt"]  # the test file itself, label columns and all
    if name in ("mnist", "cifar10"):
        write_pngs(name, final, tmp_path / "images")
        return [tmp_path / "images"]
    rows = tmp_path / "rows.csv"
    shutil.copy(paths.split(name) / f"{final}.csv", rows)  # id and target columns too: ignored
    return [rows]


def check_predict_gives_what_evaluate_gave(workdir, mirror_dir, tmp_path, name: str) -> None:
    """After every stage of `name` ran in workdir (tests/test_stages.py, each task)."""
    final = "test" if any(paths.split(name).glob("test.*")) else "val"
    inputs = raw_inputs(name, final, mirror_dir, tmp_path)
    shutil.move(workdir / "data", tmp_path / "data")  # predict reads nothing from data/
    got = prediction.run(name, inputs, tmp_path / "out.csv", paths.model(name))
    expected = pd.read_csv(paths.reports(name) / "predictions.csv")
    assert pd.read_csv(tmp_path / "out.csv").columns.tolist() == expected.columns.tolist()
    assert len(got) == len(expected)
    if "label" in expected:
        assert got["label"].astype(str).tolist() == expected["label"].astype(str).tolist()
    for column in expected.columns[2 if "label" in expected else 1 :]:
        assert np.allclose(got[column], expected[column], atol=1e-6, rtol=0), column
    if name == "nslkdd":  # against the file's own label column
        truth = pd.read_csv(mirror_dir / "KDDTest+.txt", header=None)[41] != "normal"
        accuracy = float(((got["label"] == "attack") == truth).mean())
        assert round(accuracy, 6) == json.loads(paths.metrics(name).read_text())["test"]["accuracy"]


def test_kdd_lines_without_their_label_columns(workdir, mirror_dir, tmp_path):
    run_stages("nslkdd", download, split, featurize, train)
    lines = (mirror_dir / "KDDTest+.txt").read_text().splitlines()[:20]
    (tmp_path / "with.txt").write_text("".join(f"{line}\n" for line in lines))
    (tmp_path / "without.txt").write_text("".join(line.rsplit(",", 2)[0] + "\n" for line in lines))
    with_labels = prediction.run("nslkdd", [tmp_path / "with.txt"], tmp_path / "a.csv", paths.model("nslkdd"))
    without = prediction.run("nslkdd", [tmp_path / "without.txt"], tmp_path / "b.csv", paths.model("nslkdd"))
    assert with_labels.equals(without) and len(without) == 20
    (tmp_path / "short.txt").write_text(lines[0].rsplit(",", 5)[0] + "\n")
    with pytest.raises(UserError, match=r"short.txt: expected 41 or 43 comma-separated values a line, found 38"):
        prediction.run("nslkdd", [tmp_path / "short.txt"], tmp_path / "c.csv", paths.model("nslkdd"))
    assert not (tmp_path / "c.csv").exists()


def cli(workdir, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "reprolab", *args], cwd=workdir, capture_output=True, text=True, env=env
    )


@pytest.fixture
def advertising_model(workdir):
    run_stages("advertising", download, split, featurize, train)
    return workdir


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("TV\n1\n", "the header lacks column(s) radio"),
        ("TV,radio,newspaper\n1,abc,3\n", "line 2, column 2 (radio): 'abc' is not a finite number"),
        ("TV,radio,newspaper\n1,,3\n", "line 2, column 2 (radio): '' is empty or not a number (NaN)"),
        # the file's own columns are named, whatever their order and whatever else the file holds
        ("sales,radio,TV\n1,,3\n", "line 2, column 2 (radio): '' is empty or not a number (NaN)"),
        ("newspaper,TV,radio\n5,x,2\n", "line 2, column 2 (TV): 'x' is not a finite number"),
        ("", "empty"),
        ("TV,radio,newspaper\n", "no rows"),
    ],
)
def test_bad_input_is_one_line_and_no_output(advertising_model, content, expected, capsys):
    from reprolab.__main__ import main

    (advertising_model / "in.csv").write_text(content)
    with pytest.raises(SystemExit) as exited:
        main(["predict", "advertising", "in.csv", "--output", "out.csv"])
    assert exited.value.code == 1
    assert capsys.readouterr().err.splitlines() == [f"error: predict: in.csv: {expected}"]
    assert not (advertising_model / "out.csv").exists()


def test_a_file_that_is_no_image_and_an_old_model_file_are_one_line(workdir):
    run_stages("mnist", download, split, featurize, train)
    (workdir / "digit.png").write_text("not a png")
    result = cli(workdir, "predict", "mnist", "digit.png")
    assert (
        result.returncode == 1 and result.stderr == "error: predict: digit.png: not an image (UnidentifiedImageError)\n"
    )
    old = torch.load(paths.model("mnist"), weights_only=True)
    torch.save({key: old[key] for key in ("config", "kind", "state_dict")}, paths.model("mnist"))
    result = cli(workdir, "predict", "mnist", "digit.png")
    assert result.stderr == (
        "error: predict: models/mnist.pt: a model file of an older layout; run: dvc repro --force train@mnist\n"
    )


def test_the_command_line_prints_csv_and_converts_images_once(workdir):
    from PIL import Image

    run_stages("mnist", download, split, featurize, train)
    Image.new("RGB", (56, 56), (255, 255, 255)).save(workdir / "big.png")
    Image.new("L", (28, 28), 0).save(workdir / "small.png")
    result = cli(workdir, "predict", "mnist", "big.png", "small.png")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "id,label," + ",".join(f"p_{d}" for d in range(10)) and len(lines) == 3
    assert result.stderr == "WARNING: 1 of 2 images converted to 28x28 L\n"


def test_the_package_installs_with_its_command(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / "reprolab", source / "reprolab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", source / "pyproject.toml")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    built = subprocess.run([*pip, "-w", str(tmp_path), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    import zipfile

    (wheel,) = tmp_path.glob("reprolab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"reprolab", wheel.name.split("-py3")[0] + ".dist-info"}
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "reprolab = reprolab.__main__:main" in entry_points


@pytest.mark.parametrize("stage", ["params", "train"])  # its own parser; the one all per-task stages share
def test_a_stage_describes_itself_and_runs_nothing(tmp_path, stage):
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", f"stages.{stage}", "--help"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0 and result.stdout.startswith(f"usage: python -m stages.{stage}")
    assert len(result.stdout.splitlines()) > 3 and list(tmp_path.iterdir()) == []
