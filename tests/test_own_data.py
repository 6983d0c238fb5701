"""End to end, your own data as README.md's "Your data in three steps" adds it: a table, a
folder of images and a file of texts (tests/helpers/own_data.py: real data of installed
packages), each a block of params.yaml, built by the baseline's `dvc repro` beside the
classic tasks; then what a user does with them."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import TASK_STAGES
from tests.helpers import own_data
from tests.helpers.pipeline_repo import OWN, environment, ran, sh

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(baseline) -> Path:
    return baseline / "repo"


def test_each_of_your_tasks_is_built_and_recorded_as_a_classic_one(repo):
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    columns = shown[0]["data"]["metrics"]  # the workspace's
    for name in OWN:
        metrics = json.loads((repo / f"metrics/{name}.json").read_text())
        assert set(metrics) == {"train", "val", "test"} and set(metrics["test"]) == {"accuracy", "macro_f1"}
        assert f"metrics/{name}.json" in columns  # dvc exp show has it, as it has every task's
        schema = json.loads((repo / f"data/split/{name}/schema.json").read_text())
        assert schema["kind"] == own_data.KINDS[name]
        sources = json.loads((repo / f"data/raw/{name}/sources.json").read_text())
        (source,) = sources.values()
        assert source["origin"] == next(iter(own_data.BLOCKS[name]["source"].values()))  # data/inputs/...
        assert source["vouched_by"] == "repository"
        card = (repo / f"reports/{name}/README.md").read_text()
        assert card.startswith(f"# {name}: model card") and "multiclass" in card
        assert "## Figures" in card and f"../../plots/{name}/confusion.png" in card
        assert (repo / f"plots/{name}/curves.csv").is_file()
        assert (repo / f"dvclive/{name}/metrics.json").is_file()
    wine = json.loads((repo / "data/split/wine/schema.json").read_text())
    assert wine["classes"] == ["class_0", "class_1", "class_2"] and len(wine["numeric"]) == 13
    assert json.loads((repo / "data/split/digits/schema.json").read_text())["classes"] == [str(d) for d in range(10)]
    docs = json.loads((repo / "data/split/docstrings/schema.json").read_text())
    assert docs["classes"] == sorted(own_data.PACKAGES)
    assert (
        json.loads((repo / "metrics/wine.json").read_text())["test"]["accuracy"] > 0.5
    )  # above chance (0.40), in 3 epochs


def _predict(repo: Path, name: str, *inputs: str) -> list[dict]:
    out = sh(repo, sys.executable, "-m", "reprolab", "predict", name, *inputs).stdout
    return list(csv.DictReader(out.splitlines()))


def test_predict_takes_your_inputs_as_you_hold_them(repo, mirror_dir, tmp_path):
    with environment(mirror_dir):
        # A table: its rows, the target left out or not, blank cells filled as training filled them.
        given = pd.read_csv(repo / "data/inputs/wine.csv")
        rows = _predict(repo, "wine", "data/inputs/wine.csv")
        evaluated = pd.read_csv(repo / "reports/wine/predictions.csv")
        by_id = {int(r["id"]): r["label"] for r in rows}
        assert len(rows) == len(given) and evaluated["label"].tolist() == [by_id[i] for i in evaluated["id"]]
        new = given.drop(columns="cultivar").head(3).astype(object)
        new.iloc[1, 2] = None  # a blank cell
        new.to_csv(tmp_path / "new.csv", index=False)
        assert len(_predict(repo, "wine", str(tmp_path / "new.csv"))) == 3

        # Images: a folder of them, of another size and mode than training's.
        from PIL import Image

        for i, path in enumerate(sorted((repo / "data/inputs/digits/7").iterdir())[:5]):
            Image.open(path).convert("RGB").resize((40, 40)).save(tmp_path / f"seven-{i}.jpg")
        labels = [r["label"] for r in _predict(repo, "digits", *map(str, sorted(tmp_path.glob("seven-*.jpg"))))]
        assert len(labels) == 5 and set(labels) <= {str(d) for d in range(10)}

        # Texts: a CSV with the task's text column, or a file of one text a line.
        (tmp_path / "docs.txt").write_text("Return the cumulative sum of the elements along a given axis.\n\n")
        (tmp_path / "docs.csv").write_text('doc\n"Join two path components, inserting a separator."\n')
        for file in ("docs.txt", "docs.csv"):
            (row,) = _predict(repo, "docstrings", str(tmp_path / file))
            assert row["label"] in own_data.PACKAGES and set(row) == {"id", "label"} | {
                f"p_{p}" for p in sorted(own_data.PACKAGES)
            }


def test_an_edit_to_your_file_reruns_that_task_alone(cloned, mirror_dir):
    table = cloned / "data/inputs/wine.csv"
    lines = table.read_text().splitlines()
    fields = lines[5].split(",")
    fields[0] = str(float(fields[0]) + 1.0)  # one wine's alcohol, a degree more
    table.write_text("\n".join([*lines[:5], ",".join(fields), *lines[6:]]) + "\n")
    with environment(mirror_dir):
        sh(cloned, "dvc", "add", "-q", "data/inputs/wine.csv")
        said = sh(cloned, sys.executable, "-m", "reprolab.plan").stdout
        result = sh(cloned, "dvc", "repro")
    assert "download@wine: setting inputs.data/inputs/wine.csv" in said.splitlines()
    assert ran(result) == {"plan"} | {f"{stage}@wine" for stage in TASK_STAGES}
    assert sh(cloned, "dvc", "status", "--json").stdout.strip() == "{}"
