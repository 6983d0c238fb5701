"""`reprolab predict`: the model file alone, applied to inputs as a user holds them, gives
exactly what `evaluate` gave on the test inputs; bad input is one line and no output."""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from reprolab.core import paths
from reprolab.core.errors import UserError
from reprolab.prediction import apply as prediction
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


def predicted(task: str, inputs: list, out: Path) -> pd.DataFrame:
    """What `reprolab predict` writes for `inputs`, read back."""
    assert prediction.run(task, inputs, out, paths.model(task)) == len(table := pd.read_csv(out))
    return table


def check_predict_gives_what_evaluate_gave(workdir, mirror_dir, tmp_path, name: str) -> None:
    """After every stage of `name` ran in workdir (tests/test_stages.py, each task)."""
    final = "test" if any(paths.split(name).glob("test.*")) else "val"
    inputs = raw_inputs(name, final, mirror_dir, tmp_path)
    shutil.move(workdir / "data", tmp_path / "data")  # predict reads nothing from data/
    got = predicted(name, inputs, tmp_path / "out.csv")
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
    with_labels = predicted("nslkdd", [tmp_path / "with.txt"], tmp_path / "a.csv")
    without = predicted("nslkdd", [tmp_path / "without.txt"], tmp_path / "b.csv")
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
def advertising_model(trained):
    return trained("advertising")


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


def zero_size_png() -> bytes:
    """A PNG whose header says 0 x 10 pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 0, 10, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_a_bad_image_or_an_old_model_file_is_one_line_and_no_output(trained):
    from PIL import Image

    workdir = trained("mnist")
    (workdir / "digit.png").write_text("not a png")  # a text file, named as an image
    Image.new("1", (20_000, 20_000)).save(workdir / "bomb.png")  # 400 megapixels in a few KB
    (workdir / "zero.png").write_bytes(zero_size_png())
    size = (workdir / "bomb.png").stat().st_size
    result = cli(workdir, "predict", "mnist", "digit.png", "--output", "out.csv")  # as typed: one line, status 1
    said = "error: predict: digit.png: not an image (UnidentifiedImageError)\n"
    assert (result.returncode, result.stderr) == (1, said)
    for name, why in (  # the same path in-process (a process each costs the import of torch)
        ("bomb.png", f"20000x20000 pixels ({size:,} bytes): a prediction reads images of 1 to 16 megapixels"),
        ("zero.png", "not an image (UnidentifiedImageError)"),
    ):
        with pytest.raises(UserError) as refused:
            prediction.run("mnist", [Path(name)], Path("out.csv"), paths.model("mnist"))
        assert str(refused.value) == f"{name}: {why}"
    assert not (workdir / "out.csv").exists()
    old = torch.load(paths.model("mnist"), weights_only=True)
    torch.save({key: old[key] for key in ("config", "kind", "state_dict")}, paths.model("mnist"))
    with pytest.raises(UserError) as refused:
        prediction.run("mnist", [Path("digit.png")], None, paths.model("mnist"))
    assert str(refused.value) == "models/mnist.pt: a model file of an older layout; run: dvc repro --force train@mnist"


def test_the_command_line_prints_csv_and_says_what_it_converted(trained):
    from PIL import Image

    workdir = trained("mnist")
    Image.new("RGB", (56, 56), (255, 255, 255)).save(workdir / "blank.png")  # one colour
    Image.new("L", (28, 28), 0).save(workdir / "small.png")  # the training images' form
    digit = Image.new("RGB", (90, 60), (235, 235, 235))  # dark on light, off centre
    digit.paste((20, 20, 20), (10, 10, 22, 50))
    digit.save(workdir / "drawn.png")
    result = cli(workdir, "predict", "mnist", "blank.png", "small.png", "drawn.png")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "id,label," + ",".join(f"p_{d}" for d in range(10)) and len(lines) == 4
    assert result.stderr == (
        "WARNING: 2 of 3 images converted to 28x28 L (1 resized, 1 inverted, 1 cropped); "
        "1 of one colour (blank: nothing to centre), predicted as they are\n"
    )


def test_blank_rows_of_a_table_are_skipped_counted_and_keep_the_numbering(advertising_model, caplog):
    rows = ["TV,radio,newspaper", "230.1,37.8,69.2", "", "44.5,39.3,45.1", " , , ", "17.2,45.9,69.3", ""]
    (advertising_model / "gaps.csv").write_text("\n".join(rows) + "\n")
    (advertising_model / "whole.csv").write_text("\n".join(r for r in rows if r.strip(" ,")) + "\n")
    with caplog.at_level(logging.WARNING):
        gaps = predicted("advertising", [Path("gaps.csv")], Path("gaps-out.csv"))
    assert caplog.messages == ["3 blank line(s) skipped (gaps.csv: 3); the ids are the lines' own numbers"]
    whole = predicted("advertising", [Path("whole.csv")], Path("whole-out.csv"))
    assert gaps["id"].tolist() == [1, 3, 5]  # the rows' own numbers below the header
    assert gaps.drop(columns="id").equals(whole.drop(columns="id"))


def test_blank_headlines_are_skipped_counted_and_keep_the_numbering(trained, caplog):
    workdir = trained("news")
    lines = ["Fed raises interest rates again", "", "New smartphone unveiled", "   ", "Actor wins award", ""]
    (workdir / "headlines.txt").write_text("\n".join(lines) + "\n")
    (workdir / "whole.txt").write_text("\n".join(line for line in lines if line.strip()) + "\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        gaps = predicted("news", [Path("headlines.txt")], Path("gaps-out.csv"))
    assert caplog.messages == ["3 blank line(s) skipped (headlines.txt: 3); the ids are the lines' own numbers"]
    whole = predicted("news", [Path("whole.txt")], Path("whole-out.csv"))
    assert gaps["id"].tolist() == [1, 3, 5]  # the lines' own numbers
    assert gaps.drop(columns="id").equals(whole.drop(columns="id"))
    (workdir / "blank.txt").write_text("\n \n")
    with pytest.raises(UserError, match=r"^blank.txt: only blank lines$"):
        prediction.run("news", [Path("blank.txt")], None, paths.model("news"))


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


@pytest.mark.parametrize("stage", ["plan", "train"])  # its own parser; the one all per-task stages share
def test_a_stage_describes_itself_and_runs_nothing(tmp_path, stage):
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", f"stages.{stage}", "--help"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0 and result.stdout.startswith(f"usage: python -m stages.{stage}")
    assert len(result.stdout.splitlines()) > 3 and list(tmp_path.iterdir()) == []
