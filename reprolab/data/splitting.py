"""Seeded train/validation/test splits of a task's rows, row by row or in whole groups, and
reading them back; `split` is the split stage's work.

A split by group (`split.group`, news: the story) keeps each group's rows in one part: a part
drawn row by row from clusters of near-copies shares them with training, and rewards memory
of them. scikit-learn's splitters are loaded only where a split is made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reprolab.core import paths
from reprolab.core.errors import UserError
from reprolab.core.files import atomic_path, read_json, write_json
from reprolab.core.params import Params, SplitParams
from reprolab.data.tasks.base import SCHEMA_FILE, TARGET, Task


def _take(rows: pd.DataFrame, fraction: float, p: SplitParams, group: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rest, about `fraction` of the rows), seeded; stratified by class where `p.stratify`.
    With a `group` field: in whole groups, one fold of round(1 / fraction), stratified as far
    as the groups allow."""
    if group is None:
        from sklearn.model_selection import train_test_split

        rest, taken = train_test_split(
            rows, test_size=fraction, random_state=p.random_state, stratify=rows[TARGET] if p.stratify else None
        )
        return rest, taken
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    folds = max(2, round(1.0 / fraction))
    if (groups := rows[group].nunique()) < folds:
        raise UserError(f"split.group: {group}: {groups} groups, too few to take {fraction:.0%} of them whole")
    splitter = (StratifiedGroupKFold if p.stratify else GroupKFold)(folds, shuffle=True, random_state=p.random_state)
    kept, taken = next(splitter.split(rows, rows[TARGET], groups=rows[group]))
    return rows.iloc[kept], rows.iloc[taken]


def split_rows(
    tables: dict[str, pd.DataFrame], p: SplitParams, holdout_field: str | None = None, classes: tuple[str, ...] = ()
) -> dict[str, pd.DataFrame]:
    """{"all": rows} -> train/val/test by the fractions of all rows; {"train", "test"}
    -> val taken from train (`p.test` is then 0). Each part is sorted by row id;
    a part with no rows (test fraction 0) is left out.

    The rows whose `holdout_field` holds one of `p.holdout` are taken out first and all go
    to validation, so that it holds groups training never sees (e.g. attack types). With
    `p.group`, no value of that field is in two parts, and each of `classes` is in every part."""
    group = None if p.group == "none" else p.group
    if group is not None:
        columns = next(iter(tables.values())).columns
        if group not in columns:
            raise UserError(f"split.group: the rows have no field {group!r} (they have: {', '.join(columns)})")
        if p.holdout:
            raise UserError("split.group and split.holdout: one or the other (a holdout already splits by group)")
    held = None
    if p.holdout:
        source = "all" if "all" in tables else "train"
        rows = tables[source]
        unknown = sorted(set(p.holdout) - set(rows[holdout_field]))
        if unknown:
            raise UserError(f"split.holdout: no {holdout_field} named {', '.join(unknown)} in the {source} rows")
        chosen = rows[holdout_field].isin(p.holdout)
        tables, held = {**tables, source: rows[~chosen]}, rows[chosen]
    if "all" in tables:
        rows, test = tables["all"], None
        if p.test > 0:
            rows, test = _take(rows, p.test, p, group)
        train, val = _take(rows, p.val / (1.0 - p.test), p, group)
    else:
        (train, val), test = _take(tables["train"], p.val, p, group), tables["test"]
    parts = {"train": train, "val": val if held is None else pd.concat([val, held]), "test": test}
    parts = {name: rows.sort_index() for name, rows in parts.items() if rows is not None}
    for name, rows in parts.items() if group is not None else ():
        if missing := sorted(set(range(len(classes))) - set(rows[TARGET])):
            raise UserError(
                f"split.group: {group}: no {classes[missing[0]]} row in {name} (too few {group} groups "
                "for these fractions; group: none splits row by row)"
            )
    return parts


def split(task: Task, params: Params) -> None:
    """The split stage: tables (and text) written as CSV, images as uint8 arrays (`.npz`) with
    their labels and ids, and what the rows are (SCHEMA_FILE: a task of your own's are found here)."""
    config = params.task(task.name).split
    if task.describe is not None:
        task = task.describe(paths.raw(task.name))
    if task.kind == "regression":
        config = config.model_copy(update={"stratify": False})  # by class: there is none
    tables = task.read(paths.raw(task.name))
    if task.is_image:
        parts = split_rows({name: images.as_rows() for name, images in tables.items()}, config)
    else:
        if task.select is not None:
            tables = {name: task.select(rows, config) for name, rows in tables.items()}
        parts = split_rows(tables, config, task.holdout_field, task.classes)
    with atomic_path(paths.split(task.name)) as out:
        out.mkdir()
        write_json(out / SCHEMA_FILE, task.schema())
        for name, rows in parts.items():
            if not task.is_image:
                rows.to_csv(out / f"{name}.csv")
                continue
            images = tables["test" if name == "test" and task.predefined_test else next(iter(tables))]
            ids = rows.index.to_numpy()
            np.savez(out / f"{name}.npz", pixels=images.pixels[ids], labels=images.labels[ids], ids=ids)


def present_splits(task: Task) -> list[str]:
    """The splits the split stage wrote for a task: train, val and, where there is one, test."""
    return [s for s in paths.SPLITS if any(paths.split(task.name).glob(f"{s}.*"))]


def described(task: Task) -> Task:
    """The task as the split stage found its rows (kind, classes, columns)."""
    return task.described(read_json(paths.split(task.name) / SCHEMA_FILE))


def read_split(task: Task, split: str) -> pd.DataFrame:
    """One split's rows as written by the split stage (tables and text), indexed by row id: a
    text or a category verbatim (a blank cell empty, NaN; "NA" is a category)."""
    verbatim = [column for column in (task.text, *task.categorical) if column]
    options = {"dtype": dict.fromkeys(verbatim, str), "keep_default_na": False, "na_values": [""]}
    frame = pd.read_csv(paths.split(task.name) / f"{split}.csv", index_col="id", **options)
    if task.text:
        frame[task.text] = frame[task.text].fillna("")  # a blank title is an empty text
    return frame
