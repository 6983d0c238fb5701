"""Tables: numeric columns standardized, categorical ones one-hot encoded, fit on training rows.

A category seen only in validation or test rows encodes as all zeros in its
block (the model knows nothing of it) and is counted, so reports can say how
often that happened. A table of your own may have blank cells: each column's are
filled as its training rows say (numbers: their median; categories: the most
frequent), and `reprolab predict` fills them the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reprolab.core.errors import UserError
from reprolab.core.params import FeatureParams
from reprolab.data.features import divisor
from reprolab.data.splitting import present_splits, read_split
from reprolab.data.tasks.base import TARGET, Task


def _numeric(rows: pd.DataFrame, numeric: tuple[str, ...], log: tuple[str, ...]) -> np.ndarray:
    """The numeric columns as float64, the `log` ones compressed: heavy-tailed counts (bytes,
    durations) would otherwise leave most rows within a hair of the mean after standardizing."""
    values = rows[list(numeric)].to_numpy(np.float64)
    for i, column in enumerate(numeric):
        if column in log:
            values[:, i] = np.sign(values[:, i]) * np.log1p(np.abs(values[:, i]))
    return values


@dataclass(frozen=True)
class TabularEncoder:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    log: tuple[str, ...]  # numeric columns read as sign(x) log(1 + |x|) before standardizing
    mean: tuple[float, ...]
    scale: tuple[float, ...]  # 1.0 where not standardizing, or where a column is constant
    categories: dict[str, tuple[str, ...]]
    fill: dict[str, float | str] = field(default_factory=dict)  # what a blank cell reads as, by column

    @staticmethod
    def fit_fill(rows: pd.DataFrame, numeric: tuple[str, ...], categorical: tuple[str, ...]) -> dict[str, float | str]:
        """What each column's blank cells are read as: the training rows' median, or their most
        frequent category (the first in order among equals); 0 or "" where a column has no value."""
        fill: dict[str, float | str] = {}
        for column in numeric:
            values = rows[column].dropna()
            fill[column] = float(values.median()) if len(values) else 0.0
        for column in categorical:
            counts = rows[column].dropna().astype(str).value_counts()
            fill[column] = str(min(counts[counts == counts.max()].index)) if len(counts) else ""
        return fill

    def filled(self, rows: pd.DataFrame) -> pd.DataFrame:
        if not self.fill:
            return rows
        return rows.astype(dict.fromkeys(self.categorical, object)).fillna(self.fill)

    @classmethod
    def fit(
        cls,
        rows: pd.DataFrame,
        numeric: tuple[str, ...],
        categorical: tuple[str, ...],
        *,
        standardize: bool,
        log: tuple[str, ...] = (),
        fills_missing: bool = False,
    ) -> TabularEncoder:
        fill = cls.fit_fill(rows, numeric, categorical) if fills_missing else {}
        rows = rows.astype(dict.fromkeys(categorical, object)).fillna(fill) if fill else rows
        values = _numeric(rows, numeric, log)
        if standardize and len(rows):
            mean = values.mean(axis=0)
            std = values.std(axis=0)
            scale = divisor(std)
        else:
            mean, scale = np.zeros(len(numeric)), np.ones(len(numeric))
        return cls(
            numeric=tuple(numeric),
            categorical=tuple(categorical),
            log=tuple(log),
            mean=tuple(float(m) for m in mean),
            scale=tuple(float(s) for s in scale),
            categories={c: tuple(sorted(rows[c].astype(str).unique())) for c in categorical},
            fill=fill,
        )

    @property
    def feature_names(self) -> list[str]:
        return [*self.numeric, *(f"{c}={v}" for c in self.categorical for v in self.categories[c])]

    def transform(self, rows: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
        """Return the float32 feature matrix and, per categorical column, how many rows were unseen."""
        rows = self.filled(rows)
        numeric = (_numeric(rows, self.numeric, self.log) - self.mean) / self.scale
        blocks, unseen = [numeric.astype(np.float32)], {}
        for column in self.categorical:
            known = pd.Index(self.categories[column])
            codes = known.get_indexer(rows[column].astype(str))  # -1 where unseen
            block = np.zeros((len(rows), len(known)), np.float32)
            seen = codes >= 0
            block[np.flatnonzero(seen), codes[seen]] = 1.0
            blocks.append(block)
            unseen[column] = int((~seen).sum())
        return np.concatenate(blocks, axis=1), unseen

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> TabularEncoder:
        """The encoder as `to_dict` gave it (after a round trip through JSON or a model file)."""
        categories = {column: tuple(values) for column, values in saved["categories"].items()}
        fields = {key: tuple(saved[key]) for key in ("numeric", "categorical", "log", "mean", "scale")}
        return cls(**fields, categories=categories, fill=dict(saved.get("fill", {})))


def featurize(task: Task, config: FeatureParams, seed: int, out: Path) -> tuple[dict, dict]:
    """({split: arrays}, meta) for a table task."""
    where = f"params.yaml: tasks.{task.name}.features"
    unknown = sorted(set(config.drop) - set(task.features))
    if unknown:
        raise UserError(f"{where}.drop: unknown column {unknown[0]!r}")
    not_numeric = sorted(set(config.log) - set(task.numeric))
    if not_numeric:
        raise UserError(f"{where}.log: {not_numeric[0]!r} is not a numeric column")
    kept = (
        tuple(c for c in task.numeric if c not in config.drop),
        tuple(c for c in task.categorical if c not in config.drop),
    )
    if not any(kept):
        raise UserError(f"{where}.drop: no feature column is left")
    rows = {split: read_split(task, split) for split in present_splits(task)}
    log = tuple(c for c in kept[0] if c in config.log)
    encoder = TabularEncoder.fit(
        rows["train"], *kept, standardize=config.standardize, log=log, fills_missing=task.fills_missing
    )
    arrays: dict[str, dict] = {}
    stats: dict[str, dict[str, Any]] = {}  # {split: {"unseen_categories": {column: rows}, "filled_cells": n}}
    for split, frame in rows.items():
        x, unseen = encoder.transform(frame)
        arrays[split] = {"x": x, "y": frame[TARGET].to_numpy(), "id": frame.index.to_numpy()}
        if any(unseen.values()):
            stats[split] = {"unseen_categories": dict(unseen)}
        if blank := int(frame[[*kept[0], *kept[1]]].isna().to_numpy().sum()):
            stats.setdefault(split, {})["filled_cells"] = blank
    meta = {
        "n_features": len(encoder.feature_names),
        "feature_names": encoder.feature_names,
        "encoder": encoder.to_dict(),
        "split_metrics": stats,
    }
    return arrays, meta
