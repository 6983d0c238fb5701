"""Seeded train/validation/test splits of a task's rows, and reading them back."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from reprolab import paths
from reprolab.files import UserError
from reprolab.params import SplitParams
from reprolab.tasks.base import TARGET, Task


def _take(rows: pd.DataFrame, fraction: float, p: SplitParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    rest, taken = train_test_split(
        rows, test_size=fraction, random_state=p.random_state, stratify=rows[TARGET] if p.stratify else None
    )
    return rest, taken


def split_rows(tables: dict[str, pd.DataFrame], p: SplitParams, group: str | None = None) -> dict[str, pd.DataFrame]:
    """{"all": rows} -> train/val/test by the fractions of all rows; {"train", "test"}
    -> val taken from train (`p.test` is then 0). Each part is sorted by row id;
    a part with no rows (test fraction 0) is left out.

    The rows whose `group` column holds one of `p.holdout` are taken out first and all go
    to validation, so that it holds groups training never sees (e.g. attack types)."""
    held = None
    if p.holdout:
        source = "all" if "all" in tables else "train"
        rows = tables[source]
        unknown = sorted(set(p.holdout) - set(rows[group]))
        if unknown:
            raise UserError(f"split.holdout: no {group} named {', '.join(unknown)} in the {source} rows")
        chosen = rows[group].isin(p.holdout)
        tables, held = {**tables, source: rows[~chosen]}, rows[chosen]
    if "all" in tables:
        rows, test = tables["all"], None
        if p.test > 0:
            rows, test = _take(rows, p.test, p)
        train, val = _take(rows, p.val / (1.0 - p.test), p)
    else:
        (train, val), test = _take(tables["train"], p.val, p), tables["test"]
    parts = {"train": train, "val": val if held is None else pd.concat([val, held]), "test": test}
    return {name: rows.sort_index() for name, rows in parts.items() if rows is not None}


def present_splits(task: Task) -> list[str]:
    """The splits the split stage wrote for a task: train, val and, where there is one, test."""
    return [s for s in paths.SPLITS if any(paths.split(task.name).glob(f"{s}.*"))]


def read_split(task: Task, split: str) -> pd.DataFrame:
    """One split's rows as written by the split stage (tables and text), indexed by row id."""
    text = {"dtype": {task.text: str}, "keep_default_na": False} if task.text else {}  # titles verbatim
    return pd.read_csv(paths.split(task.name) / f"{split}.csv", index_col="id", **text)
