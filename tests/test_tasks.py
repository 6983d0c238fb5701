import pytest

from reprolab.files import UserError
from reprolab.tasks import get, nslkdd
from reprolab.tasks.base import TARGET
from tests import fixtures


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
    with pytest.raises(UserError, match=r"KDDTrain\+\.txt: line 4: expected 43 values"):
        nslkdd.read(tmp_path)


def test_kddtest_21_and_per_attack_report():
    import numpy as np
    import pandas as pd

    rows = pd.DataFrame({"attack": ["normal", "smurf", "smurf", "neptune"], "difficulty": [21, 10, 21, 20]})
    y = np.array([0, 1, 1, 1])
    pred = np.array([0, 0, 1, 1])
    metrics, tables = nslkdd.report(rows, y, pred, pred.astype(float))
    assert metrics["kddtest21"] == {"accuracy": 0.5, "rows": 2}
    table = tables["per_attack"].set_index("attack")
    assert table.loc["smurf", "recall"] == 0.5 and table.loc["smurf", "rows"] == 2


def test_unknown_task():
    with pytest.raises(UserError, match="unknown task 'mnistt'"):
        get("mnistt")
