import numpy as np
import pandas as pd
import pytest

from reprolab.core.errors import UserError
from reprolab.core.params import SplitParams
from reprolab.data.features.table import TabularEncoder
from reprolab.data.splitting import split_rows
from reprolab.data.tasks.base import TARGET


@pytest.fixture
def rows() -> dict[str, pd.DataFrame]:
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "k": [5.0, 5.0, 5.0, 5.0], "c": ["x", "y", "x", "y"]})
    test = pd.DataFrame({"a": [100.0, -50.0], "k": [7.0, 5.0], "c": ["x", "zz"]})
    return {"train": train, "test": test}


def test_statistics_come_from_the_training_rows_only(rows):
    encoder = TabularEncoder.fit(rows["train"], ("a", "k"), ("c",), standardize=True)
    assert encoder.mean == (2.5, 5.0)
    assert encoder.scale[0] == pytest.approx(np.std([1, 2, 3, 4]))
    assert encoder.scale[1] == 1.0  # a constant column is centred, not divided by zero
    x, _ = encoder.transform(rows["test"])
    assert x[0, 0] == pytest.approx((100.0 - 2.5) / np.std([1, 2, 3, 4]))
    train_x, _ = encoder.transform(rows["train"])
    assert train_x[:, 0].mean() == pytest.approx(0.0, abs=1e-6) and train_x[:, 0].std() == pytest.approx(1.0)


def test_unseen_categories_encode_as_zeros_and_are_counted(rows):
    encoder = TabularEncoder.fit(rows["train"], ("a",), ("c",), standardize=False)
    assert encoder.feature_names == ["a", "c=x", "c=y"]
    x, unseen = encoder.transform(rows["test"])
    assert x.dtype == np.float32
    assert x[:, 1:].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert unseen == {"c": 1}
    assert x[0, 0] == 100.0  # standardize off: values pass through


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"v": np.arange(n, dtype=float), TARGET: np.arange(n) % 2}, index=pd.RangeIndex(n, name="id"))


def test_three_way_split_is_disjoint_seeded_and_sorted():
    p = SplitParams(val=0.2, test=0.1, random_state=3)
    parts = split_rows({"all": frame(100)}, p)
    assert {k: len(v) for k, v in parts.items()} == {"train": 70, "val": 20, "test": 10}
    ids = [set(v.index) for v in parts.values()]
    assert set.union(*ids) == set(range(100)) and sum(map(len, ids)) == 100
    assert all(v.index.is_monotonic_increasing for v in parts.values())
    again = split_rows({"all": frame(100)}, p)
    assert all(parts[k].index.equals(again[k].index) for k in parts)
    other = split_rows({"all": frame(100)}, SplitParams(val=0.2, test=0.1, random_state=4))
    assert not parts["val"].index.equals(other["val"].index)


def test_no_test_fraction_means_no_test_split():
    parts = split_rows({"all": frame(50)}, SplitParams(val=0.2, test=0.0, random_state=0))
    assert set(parts) == {"train", "val"}


def test_a_predefined_test_file_stays_whole():
    parts = split_rows(
        {"train": frame(100), "test": frame(30)}, SplitParams(val=0.3, test=0.0, random_state=34, stratify=True)
    )
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (70, 30, 30)
    assert parts["val"][TARGET].mean() == pytest.approx(0.5)


def test_held_out_groups_go_to_validation_whole():
    rows = frame(100).assign(kind=["a", "b", "c", "d"] * 25)
    p = SplitParams(val=0.2, test=0.0, random_state=0, holdout=["c", "d"])
    parts = split_rows({"train": rows, "test": frame(10)}, p, holdout_field="kind")
    assert set(parts["train"]["kind"]) == {"a", "b"}  # training never sees c or d ...
    assert (parts["val"]["kind"].isin(["c", "d"])).sum() == 50  # ... validation has all of them
    assert len(parts["val"]) == 50 + 10 and parts["val"].index.is_monotonic_increasing  # and 20% of the rest
    with pytest.raises(UserError, match="split.holdout: no kind named e in the train rows"):
        split_rows(
            {"train": rows, "test": frame(10)}, SplitParams(val=0.2, test=0.0, random_state=0, holdout=["e"]), "kind"
        )


def test_a_group_split_puts_each_group_in_one_part_stratified_and_seeded():
    rows = frame(600).assign(story=[f"s{i // 3}" for i in range(600)])  # 200 stories of 3 rows
    rows[TARGET] = [(i // 3) % 4 for i in range(600)]  # a story's rows share their class, as news's do
    p = SplitParams(val=0.1, test=0.1, random_state=123, stratify=True, group="story")
    parts = split_rows({"all": rows}, p, classes=("b", "t", "e", "m"))
    stories = {name: set(part["story"]) for name, part in parts.items()}
    assert not (
        stories["train"] & stories["val"] or stories["train"] & stories["test"] or stories["val"] & stories["test"]
    )
    assert sum(map(len, parts.values())) == 600 and 50 <= len(parts["test"]) <= 70 and 50 <= len(parts["val"]) <= 70
    assert all(part[TARGET].nunique() == 4 for part in parts.values())  # stratified as far as groups allow
    again = split_rows({"all": rows}, p, classes=("b", "t", "e", "m"))
    assert all(parts[k].index.equals(again[k].index) for k in parts)


def test_a_group_the_rows_lack_or_too_few_groups_are_one_line():
    by_story = SplitParams(val=0.1, test=0.1, random_state=0, group="story")
    rows = frame(60).assign(story=[f"s{i // 3}" for i in range(60)])  # twenty stories
    rows[TARGET] = [int(i < 3) for i in range(60)]  # class b in one story only
    said = r"^split.group: the rows have no field 'stroy' \(they have: v, target, story\)$"
    with pytest.raises(UserError, match=said):
        split_rows({"all": rows}, SplitParams(val=0.1, test=0.1, random_state=0, group="stroy"), classes=("a", "b"))
    with pytest.raises(UserError, match=r"^split.group: story: no b row in (train|val|test) \(too few story groups"):
        split_rows({"all": rows}, by_story, classes=("a", "b"))
    with pytest.raises(UserError, match=r"^split.group: story: 4 groups, too few to take 10% of them whole$"):
        split_rows({"all": rows.iloc[:12]}, by_story, classes=("a", "b"))
