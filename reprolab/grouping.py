"""Splits that keep each group's rows in one part (news: the headlines of one story), for a
task whose split params name a `group` field (tasks.news.split.group). A part drawn row by
row from clusters of near-copies shares them with training, and rewards memory of them.

Only the split stage runs this, so a change here re-splits and nothing downstream of a
split that comes out the same.
"""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from reprolab.files import UserError
from reprolab.params import SplitParams
from reprolab.tasks.base import TARGET


def _take(rows: pd.DataFrame, fraction: float, p: SplitParams, group: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rest, about `fraction` of the rows in whole groups): one fold of round(1 / fraction),
    seeded, and stratified by class as far as the groups allow."""
    folds = max(2, round(1.0 / fraction))
    if (groups := rows[group].nunique()) < folds:
        raise UserError(f"split.group: {group}: {groups} groups, too few to take {fraction:.0%} of them whole")
    splitter = (StratifiedGroupKFold if p.stratify else GroupKFold)(folds, shuffle=True, random_state=p.random_state)
    kept, taken = next(splitter.split(rows, rows[TARGET], groups=rows[group]))
    return rows.iloc[kept], rows.iloc[taken]


def split_groups(
    tables: dict[str, pd.DataFrame], p: SplitParams, group: str, classes: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """As splitting.split_rows ({"all": rows} -> train/val/test by the fractions of all rows;
    {"train", "test"} -> val taken from train), with no value of the `group` field in two
    parts, and each of `classes` kept in every part."""
    columns = next(iter(tables.values())).columns
    if group not in columns:
        raise UserError(f"split.group: the rows have no field {group!r} (they have: {', '.join(columns)})")
    if p.holdout:
        raise UserError("split.group and split.holdout: one or the other (a holdout already splits by group)")
    if "all" in tables:
        rows, test = tables["all"], None
        if p.test > 0:
            rows, test = _take(rows, p.test, p, group)
        train, val = _take(rows, p.val / (1.0 - p.test), p, group)
    else:
        (train, val), test = _take(tables["train"], p.val, p, group), tables["test"]
    parts = {"train": train, "val": val, "test": test}
    parts = {name: rows.sort_index() for name, rows in parts.items() if rows is not None}
    for name, rows in parts.items():
        if missing := sorted(set(range(len(classes))) - set(rows[TARGET])):
            raise UserError(
                f"split.group: {group}: no {classes[missing[0]]} row in {name} (too few {group} groups "
                "for these fractions; group: none splits row by row)"
            )
    return parts
