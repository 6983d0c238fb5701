"""Tasks of your own data (reprolab/data/tasks/table.py, images.py, texts.py): what their rows
are found to be, and every bad input named in one line before any training."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reprolab.core.errors import UserError
from reprolab.data import sources
from reprolab.data.features.table import TabularEncoder
from reprolab.data.tasks import every, get, module_of
from reprolab.data.tasks.base import TARGET


def table(tmp_path, text: str, **source):
    (tmp_path / "t.csv").write_text(text)
    return get("mine", {"source": {"table": "data/inputs/t.csv", "target": "y", **source}})


def described(tmp_path, text: str, **source):
    return table(tmp_path, text, **source).describe(tmp_path)


def rows(n: int, label=lambda i: i % 2, **columns) -> str:
    names = ["a", *columns, "y"]
    lines = [",".join(names)] + [
        ",".join([str(i * 0.5), *(str(f(i)) for f in columns.values()), str(label(i))]) for i in range(n)
    ]
    return "\n".join(lines) + "\n"


def fails(match: str, call, *args, **kwargs) -> str:
    with pytest.raises(UserError, match=match) as caught:
        call(*args, **kwargs)
    assert "\n" not in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize(
    ("labels", "kind", "classes"),
    [
        (lambda i: ["no", "yes"][i % 2], "binary", ("no", "yes")),
        (lambda i: ["b", "a", "c"][i % 3], "multiclass", ("a", "b", "c")),
        (lambda i: [3, 10, 7][i % 3], "multiclass", ("3", "7", "10")),  # in numeric order
        (lambda i: i * 0.37, "regression", ()),
        (lambda i: i, "regression", ()),  # whole numbers, but more than 20 of them: a quantity
    ],
)
def test_the_kind_and_classes_are_told_by_the_target(tmp_path, labels, kind, classes):
    task = described(tmp_path, rows(40, labels))
    assert (task.kind, task.classes, task.numeric, task.categorical) == (kind, classes, ("a",), ())
    read = task.read(tmp_path)["all"]
    assert list(read.index[:2]) == [1, 2] and read.index.name == "id"  # the rows' numbers in the file
    if classes:
        assert read[TARGET].tolist()[:3] == [classes.index(str(labels(i))) for i in range(3)]


def test_stated_kind_and_columns_win_over_what_is_told(tmp_path):
    text = rows(40, lambda i: i % 3, code=lambda i: 100 + i % 4)
    task = described(tmp_path, text, kind="regression", categorical=["code"])
    assert (task.kind, task.numeric, task.categorical) == ("regression", ("a",), ("code",))
    fails(
        r"t\.csv: task mine: kind binary, but y holds 3 distinct value\(s\)", described, tmp_path, text, kind="binary"
    )
    fails("y holds 'x'.*kind regression needs numbers", described, tmp_path, rows(40, lambda i: "x"), kind="regression")


def test_columns_are_numbers_categories_or_left_out_and_said_so(tmp_path, caplog):
    columns = {
        "colour": lambda i: ["red", "white"][i % 2],
        "name": lambda i: f"wine {i}",  # a different text in every row
        "empty": lambda i: "",
        "score": lambda i: "" if i == 3 else i,  # a blank cell: filled later
    }
    with caplog.at_level(logging.WARNING):
        task = described(tmp_path, rows(40, **columns))
    assert task.numeric == ("a", "score") and task.categorical == ("colour",)
    assert (
        "column(s) left out: name (a different text in every row" in caplog.text and "empty (no value)" in caplog.text
    )
    read = task.read(tmp_path)["all"]
    assert np.isnan(read.loc[4, "score"]) and read.loc[1, "colour"] == "red"


def test_a_numeric_column_holding_text_is_named_at_its_row(tmp_path):
    text = rows(40, size=lambda i: "12,5" if i == 6 else i)  # quoted below: one cell
    text = text.replace("12,5", '"12,5"')
    said = fails("column 'size' \\(mostly numbers\\): '12,5' at line 8 is not a number", described, tmp_path, text)
    assert said.startswith(f"{tmp_path / 't.csv'}: task mine:") and "state the column in categorical" in said
    assert described(tmp_path, text, categorical=["size"]).categorical == ("size",)
    text = rows(40, size=lambda i: "n/a" if i == 1 else i)
    fails("'size' \\(stated numeric\\): 'n/a' at line 3", described, tmp_path, text, numeric=["size"])


def test_the_target_and_the_id_must_be_there(tmp_path):
    fails(r"t\.csv: task mine: no column 'label' \(the columns: a, y\)", described, tmp_path, rows(10), target="label")
    fails("no column 'key'", described, tmp_path, rows(10), id="key")
    fails(
        "id column 'k' holds '0' twice",
        lambda: described(tmp_path, rows(40, k=lambda i: i // 2), id="k").read(tmp_path),
    )


def test_blank_labels_are_skipped_and_counted_or_refused_when_none_is_left(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        task = described(tmp_path, rows(41, lambda i: "" if i in (0, 7) else ["p", "q"][i % 2]))
    assert "t.csv: task mine: 2 row(s) with a blank y skipped" in caplog.text
    assert len(task.read(tmp_path)["all"]) == 39 and task.read(tmp_path)["all"].index[0] == 2
    fails("every row's y is blank: no label to learn", described, tmp_path, rows(5, lambda i: " "))


def test_one_class_or_a_class_too_small_for_the_split_is_refused(tmp_path):
    fails("one class only \\(y is always 'a'\\): nothing to tell apart", described, tmp_path, rows(30, lambda i: "a"))
    said = fails("class 'rare' has 3 row\\(s\\); a split of val 0.15 and test 0.15 needs at least 7 of each class",
                 described, tmp_path, rows(60, lambda i: "rare" if i < 3 else "common"))  # fmt: skip
    assert said.startswith(f"{tmp_path / 't.csv'}: task mine:")


def test_a_test_file_of_the_same_columns(tmp_path):
    (tmp_path / "t2.csv").write_text(rows(10))
    task = described(tmp_path, rows(40), test="data/inputs/t2.csv")
    assert task.predefined_test and set(task.read(tmp_path)) == {"train", "test"}
    (tmp_path / "t2.csv").write_text("b,y\n1,0\n")
    fails(
        r"t2\.csv: task mine: no column 'a', which t\.csv has", described, tmp_path, rows(40), test="data/inputs/t2.csv"
    )


def test_a_parquet_table(tmp_path):
    pd.DataFrame({"a": [0.5 * i for i in range(40)], "y": ["u", "v"] * 20}).to_parquet(tmp_path / "t.parquet")
    task = get("mine", {"source": {"table": "data/inputs/t.parquet", "target": "y"}}).describe(tmp_path)
    assert (task.kind, task.classes, task.numeric) == ("binary", ("u", "v"), ("a",))


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ({"table": "../elsewhere.csv", "target": "y"}, "a file or folder under data/inputs/"),
        ({"table": "/tmp/t.csv", "target": "y"}, "a file or folder under data/inputs/"),
        ({"table": "https://example.org/t.csv", "target": "y"}, "a URL needs its sha256"),
        ({"table": "data/inputs/t.xlsx", "target": "y"}, "a table is a .csv, .tsv"),
        ({"table": "data/inputs/t.csv"}, "tasks.mine.source: target: missing"),
        ({"table": "data/inputs/t.csv", "target": "y", "numeric": ["a"], "categorical": ["a"]}, "both numeric and"),
        ({"images": "data/inputs/x", "size": [4, 4]}, "size.0: Input should be greater than or equal to 8"),
        ({"texts": "data/inputs/t.csv", "text": "x", "label": "x"}, "text and label name the same column"),
        ({"rows": "data/inputs/t.csv"}, "a task of your own names one of table, images, texts"),
    ],
)
def test_a_bad_block_is_refused_naming_its_key(source, said):
    fails("^params.yaml: tasks.mine", get, "mine", {"source": source})
    assert said in fails(".", get, "mine", {"source": source})


def test_a_task_name_must_serve_as_a_stage_and_file_name():
    fails("a task's name is lower-case letters", module_of, "My Wine", {"source": {"table": "data/inputs/t.csv"}})


def test_a_missing_or_changed_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/inputs").mkdir(parents=True)
    (task_source,) = get("mine", {"source": {"table": "data/inputs/t.csv", "target": "y"}}).sources
    fails("data/inputs/t.csv: not found \\(put it there and `dvc add` it", sources.input_sha256, task_source)
    (tmp_path / "data/inputs/t.csv").write_text("a,y\n1,0\n")
    seen = sources.input_sha256(task_source)
    pinned = get("mine", {"source": {"table": "data/inputs/t.csv", "target": "y", "sha256": seen}}).sources[0]
    assert sources.copy_input(pinned, tmp_path / "raw") == {
        "origin": "data/inputs/t.csv",
        "sha256": seen,
        "vouched_by": "pin",
    }
    (tmp_path / "data/inputs/t.csv").write_text("a,y\n2,0\n")
    fails(
        f"sha256 [0-9a-f]{{64}}, but params.yaml pins {seen}: it changed since it was pinned",
        sources.input_sha256,
        pinned,
    )
    fails("it changed since it was pinned", sources.copy_input, pinned, tmp_path / "raw2")
    assert not (tmp_path / "raw2").exists() or not any((tmp_path / "raw2").iterdir())  # nothing half-written


def test_blank_cells_are_filled_by_rules_fit_on_training_rows():
    train = pd.DataFrame({"n": [1.0, np.nan, 3.0, 10.0], "c": ["x", "y", "y", np.nan]})
    encoder = TabularEncoder.fit(train, ("n",), ("c",), standardize=False, fills_missing=True)
    assert encoder.fill == {"n": 3.0, "c": "y"}  # the median, the most frequent
    x, _ = encoder.transform(pd.DataFrame({"n": [np.nan], "c": [np.nan]}))
    assert x.tolist() == [[3.0, 0.0, 1.0]]
    assert TabularEncoder.from_dict(encoder.to_dict()) == encoder


def image_folder(root, classes: dict[str, int]):
    for name, n in classes.items():
        (root / "pics" / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (20 + i, 30), (i * 10 % 255, 100, 50)).save(root / "pics" / name / f"{i}.png")
    return get("pics", {"source": {"images": "data/inputs/pics", "size": [16, 16]}})


def test_a_folder_of_images_by_class(tmp_path, caplog):
    task = image_folder(tmp_path, {"cat": 8, "dog": 9})
    (tmp_path / "pics/dog/notes.txt").write_text("not an image")
    with caplog.at_level(logging.WARNING):
        task = task.describe(tmp_path)
    assert (task.kind, task.classes, task.image_shape) == ("binary", ("cat", "dog"), (3, 16, 16))
    assert "1 file(s) Pillow cannot read skipped (dog/notes.txt)" in caplog.text
    images = task.read(tmp_path)["all"]
    assert images.pixels.shape == (17, 3, 16, 16) and images.labels.tolist() == [0] * 8 + [1] * 9


def test_a_bad_folder_of_images_is_refused(tmp_path):
    (tmp_path / "pics").mkdir()
    fails("no class sub-folder", image_folder(tmp_path, {}).describe, tmp_path)
    task = image_folder(tmp_path, {"cat": 8})
    (tmp_path / "pics/dog").mkdir()
    (tmp_path / "pics/dog/a.png").write_text("not a png")
    fails("pics/dog: task pics: a class folder with no image Pillow reads", task.describe, tmp_path)
    Image.new("1", (5000, 4000)).save(tmp_path / "pics/dog/a.png")  # 20 megapixels: over predict's limit
    fails(
        "a.png: task pics: 5000x4000 pixels .*: a prediction reads images of 1 to 16 megapixels",
        task.describe,
        tmp_path,
    )


def test_a_file_of_texts(tmp_path, caplog):
    (tmp_path / "t.tsv").write_text(
        "body\tteam\n" + "".join(f"text {i}\t{'ab'[i % 2] if i != 5 else ''}\n" for i in range(30))
    )
    task = get("notes", {"source": {"texts": "data/inputs/t.tsv", "text": "body", "label": "team"}})
    with caplog.at_level(logging.WARNING):
        task = task.describe(tmp_path)
    assert (task.kind, task.classes, task.text) == ("binary", ("a", "b"), "body")
    assert "1 row(s) with a blank team skipped" in caplog.text
    assert task.read(tmp_path)["all"]["body"].tolist()[:2] == ["text 0", "text 1"]
    wrong = get("notes", {"source": {"texts": "data/inputs/t.tsv", "text": "title", "label": "team"}})
    fails(r"t\.tsv: task notes: no column 'title' \(the columns: body, team\)", wrong.describe, tmp_path)


def test_a_task_of_your_own_with_no_search_of_its_own_gets_the_default_one(tmp_path, monkeypatch):
    from reprolab.experiments import search

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("tasks:\n  mine:\n    source: {table: data/inputs/t.csv, target: y}\n")
    (tmp_path / "search.yaml").write_text("seed: 42\n")
    space = search.load_space("mine", tmp_path / "search.yaml")
    assert (space["task"], space["metric"], sorted(space["space"])) == (
        "mine",
        "val.loss",
        ["model.dropout", "train.lr"],
    )
    fails("search.yaml: needs seed, and other: metric", search.load_space, "other", tmp_path / "search.yaml")


def test_the_plan_refuses_a_missing_file_naming_its_task(tmp_path, monkeypatch):
    from reprolab import plan
    from reprolab.core import params

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        "seed: 1\ndevice: auto\nreproducible: portable\n"
        "train: {epochs: 2, batch_size: 8, lr: 0.01, optimizer: adam, momentum: 0.9, weight_decay: 0.0,"
        " scheduler: none, step_size: 1, gamma: 0.5, patience: 0, threads: 1, augment: false}\n"
        "tasks:\n  mine:\n    source: {table: data/inputs/t.csv, target: y}\n"
    )
    checked = params.load(every(), complete=True)
    fails("^task mine: data/inputs/t.csv: not found", plan.plans, checked)
