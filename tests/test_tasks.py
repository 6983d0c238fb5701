import pytest

from reprolab.core import params
from reprolab.core.errors import UserError
from reprolab.data.splitting import split_rows
from reprolab.data.tasks import NAMES, get, nslkdd
from reprolab.data.tasks.base import TARGET
from tests.conftest import MIRROR, ROOT
from tests.helpers import fixtures


def test_readers_give_features_target_and_extras(mirror_dir):
    for name in ("advertising", "nslkdd"):
        task = get(name)
        tables = task.read(mirror_dir)
        assert set(tables) == ({"train", "test"} if task.predefined_test else {"all"})
        for rows in tables.values():
            assert set(task.features) | {TARGET} | set(task.extras) <= set(rows.columns)
            assert rows.index.name == "id" and rows.index.is_unique


def test_nslkdd_labels_normal_against_every_attack(mirror_dir):
    rows = get("nslkdd").read(mirror_dir)["train"]
    assert ((rows["attack"] != "normal") == rows[TARGET].astype(bool)).all()


def test_wrong_column_count_names_the_file(tmp_path):
    lines = fixtures.kdd_rows(5, 0)
    (tmp_path / "KDDTrain+.txt").write_text("\n".join(line + ",extra" for line in lines) + "\n")
    (tmp_path / "KDDTest+.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"KDDTrain\+\.txt: expected 43 columns, found 44"):
        nslkdd.read(tmp_path)


def test_a_short_row_names_its_line(tmp_path):
    lines = fixtures.kdd_rows(5, 0)
    lines[3] = lines[3].rsplit(",", 2)[0]
    (tmp_path / "KDDTrain+.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "KDDTest+.txt").write_text("\n".join(fixtures.kdd_rows(5, 1)) + "\n")
    with pytest.raises(UserError, match=r"KDDTrain\+\.txt: line 4: expected 43 values, found 41$"):
        nslkdd.read(tmp_path)


def test_kddtest_21_and_per_attack_report():
    import numpy as np
    import pandas as pd

    rows = pd.DataFrame({"attack": ["normal", "smurf", "smurf", "neptune"], "difficulty": [21, 10, 21, 20]})
    y = np.array([0, 1, 1, 1])
    pred = np.array([0, 0, 1, 1])
    metrics, tables = nslkdd.report(rows, y, pred, pred.astype(float))
    assert metrics["kddtest21"] == {"accuracy": 0.5, "rows": 2}
    assert tables["per_attack"]["attack"].tolist() == ["smurf", "neptune", "normal"]  # by recall, worst first
    table = tables["per_attack"].set_index("attack")
    assert table.loc["smurf", "recall"] == 0.5 and table.loc["smurf", "rows"] == 2


def test_unknown_task():
    with pytest.raises(UserError, match="unknown task 'mnistt'"):
        get("mnistt")


HEADER = ",TV,radio,newspaper,sales\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "Advertising.csv: empty$"),
        (HEADER, "Advertising.csv: no rows below its header$"),
        (HEADER + "1,230.1,37.8,69.2,22.1\n2,abc,39.3,45.1,10.4\n", r"line 3, column 2 \(TV\): 'abc' is not a finite"),
        (HEADER + "1,0x10,37.8,69.2,22.1\n", r"line 2, column 2 \(TV\): '0x10' is not a finite number$"),
        (HEADER + "1,230.1,,69.2,22.1\n", r"line 2, column 3 \(radio\): '' is empty or not a number \(NaN\)$"),
        (HEADER + "1,230.1,NaN,69.2,22.1\n", r"line 2, column 3 \(radio\): 'NaN' is empty or not a number"),
        (HEADER + "1,230.1,37.8,inf,22.1\n", r"line 2, column 4 \(newspaper\): 'inf' is not a finite number$"),
        (HEADER + "1,230.1,37.8,69.2,1e400\n", r"line 2, column 5 \(sales\): '1e400' is not a finite number$"),
    ],
)
def test_a_bad_table_is_one_line_naming_file_line_and_column(tmp_path, content, expected):
    (tmp_path / "Advertising.csv").write_text(content)
    with pytest.raises(UserError, match=expected) as caught:
        get("advertising").read(tmp_path)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(str(tmp_path / "Advertising.csv"))


def wiring_gaps(mirror_dir) -> list[str]:
    """What a classic task lacks: its params block, its artifact, a fixture of each of its
    files; and the pipeline's stages, if they are not made for every block of params.yaml."""
    import yaml

    from tests.conftest import ROOT

    declared = yaml.safe_load((ROOT / "params.yaml").read_text())["tasks"]
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    gaps = [f"stage {name}: not made for every task" for name, stage in pipeline["stages"].items()
            if name != "plan" and stage.get("foreach") != "${tasks}"]  # fmt: skip
    for name in NAMES:
        task = get(name)
        if name not in declared:
            gaps.append(f"{name}: no block tasks.{name} in params.yaml")
        artifact = pipeline.get("artifacts", {}).get(f"{name}-model", {})
        if artifact.get("path") != f"models/{name}.pt" or artifact.get("type") != "model":
            gaps.append(f"{name}: no artifact {name}-model (path models/{name}.pt, type model) in dvc.yaml")
        gaps += [
            f"{name}: no end-to-end fixture of {s.filename} (tests/helpers/fixtures.py)"
            for s in task.sources
            if not (mirror_dir / s.filename).is_file()
        ]
    return gaps


def test_every_registered_task_is_wired_in(mirror_dir, tmp_path):
    assert wiring_gaps(mirror_dir) == []
    assert "nslkdd: no end-to-end fixture of KDDTrain+.txt (tests/helpers/fixtures.py)" in wiring_gaps(tmp_path)


@pytest.mark.parametrize("where", ["fixture", pytest.param("mirror", marks=pytest.mark.e2e)])  # the real 422,937 rows
def test_the_news_split_shares_no_story_between_its_parts(mirror_dir, where):
    """With the defaults of params.yaml: no story (a cluster of near-copies of one headline)
    has headlines in two of train, validation and test, and each part keeps about its share."""
    folder = MIRROR if where == "mirror" else mirror_dir
    if not (folder / "NewsAggregatorDataset.zip").is_file():
        pytest.skip("needs the shared mirror of the real data")
    task = get("news")
    config = params.load({"news": task}, ROOT / "params.yaml").task("news").split
    rows = {name: task.select(table, config) for name, table in task.read(folder).items()}
    assert config.group == "story"
    parts = split_rows(rows, config, task.holdout_field, task.classes)
    stories = {name: set(part["story"]) for name, part in parts.items()}
    assert not stories["train"] & stories["val"]
    assert not stories["train"] & stories["test"]
    assert not stories["val"] & stories["test"]
    total = sum(map(len, parts.values()))
    assert all(abs(len(parts[name]) / total - share) < 0.02 for name, share in (("val", 0.1), ("test", 0.1)))
    assert all(part[TARGET].nunique() == len(task.classes) for part in parts.values())
