"""A table of your own: a CSV, TSV or Parquet file, one row per example, whose `target` column
the other columns are to predict. Declared in params.yaml alone:

    tasks:
      wine:
        source: {table: data/inputs/wine.csv, target: quality}

What the rows are is found by the split stage and kept in data/split/T/schema.json:

- the kind: as stated (`kind:`), or told by the target: text, or whole numbers of at most
  MAX_CLASSES values, is classes (binary where two); other numbers, regression. A row whose
  target is blank is skipped, and counted in a warning.
- the columns: every column but the target and the id, unless `features.drop` names it; each
  as stated (`numeric:`, `categorical:`), or numeric where every filled cell is a number and
  categorical where most are not. A column mostly of numbers holding text, or a stated
  numeric one, is refused naming its first bad cell. A column of text with a different value
  in every row (a name, a key) and a column with no value are left out, and said so.
- blank cells are filled by rules fit on the training rows (featurize: the median, the most
  frequent category), and `reprolab predict` fills them the same way.

The split is by ratios (`split:`, by default 70/15/15 and by class), or the test rows are a
second file of the same columns (`test:`).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from reprolab.core.errors import UserError
from reprolab.core.params import FeatureParams, StrictModel
from reprolab.data.tasks import own
from reprolab.data.tasks.base import TARGET, Kind, Source, Task, load_csv

MAX_CLASSES = 20  # whole-number targets with more distinct values are read as quantities
SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ",", ".parquet": None, ".pq": None}
log = logging.getLogger(__name__)


class TableSource(StrictModel):
    table: own.Location = Field(description="a CSV, TSV or Parquet file under data/inputs/, or its URL")
    sha256: own.Sha256 | None = Field(None, description="the file's sha256: a URL needs it; a file is then checked")
    target: str = Field(description="the column to predict")
    kind: Literal["binary", "multiclass", "regression"] | None = Field(None, description="else told by the target")
    numeric: list[str] = Field(default_factory=list, description="columns read as numbers (else inferred)")
    categorical: list[str] = Field(default_factory=list, description="columns read as categories (else inferred)")
    id: str | None = Field(None, description="a column naming each row (else its number in the file)")
    test: own.Location | None = Field(None, description="a second file of the same columns: the test rows")
    test_sha256: own.Sha256 | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TableSource:
        own.pinned((self.table, self.sha256), (self.test, self.test_sha256))
        for location in (self.table, self.test):
            if location is not None and PurePosixPath(location.split("?")[0]).suffix.lower() not in SUFFIXES:
                raise ValueError(f"{location}: a table is a {', '.join(SUFFIXES)} file")
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            raise ValueError(f"{both[0]!r} is stated both numeric and categorical")
        named = {self.target, self.id or self.target} & (set(self.numeric) | set(self.categorical))
        if named:
            raise ValueError(f"{sorted(named)[0]!r} is the target or the id, not a feature column")
        return self


DEFAULTS = {"split": {}, "features": {}, "model": {"name": "mlp", "hidden": [64]}, "train": {}}


@functools.lru_cache(maxsize=4)
def _load(path: Path, stamp: tuple[int, int]) -> pd.DataFrame:
    """Every cell as text ("" where blank), the columns as the file names them. `stamp`: the
    file's size and time, so that an edited file is read again."""
    separator = SUFFIXES[path.suffix.lower()]
    if separator is None:
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as err:  # pyarrow's errors derive from these
            raise UserError(f"{path}: not a readable Parquet file: {' '.join(str(err).split())}") from None
        text = frame.astype(object).where(frame.notna(), "")
        return text.map(lambda v: v if isinstance(v, str) else str(v)).set_axis([str(c) for c in frame.columns], axis=1)
    return load_csv(path, True, dtype=str, keep_default_na=False, na_filter=False, sep=separator)


def load(path: Path) -> pd.DataFrame:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run: dvc repro download)") from None
    frame = _load(path, (stat.st_size, stat.st_mtime_ns))
    if frame.empty:
        raise UserError(f"{path}: no rows below its header")
    return frame


def _where(path: Path, row: int) -> str:
    """A row (counted from 0) as a person finds it: its line in a CSV, its number in Parquet."""
    return f"row {row + 1}" if SUFFIXES[path.suffix.lower()] is None else f"line {row + 2}"


def _numbers(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(the cells as numbers, NaN where blank; which filled cells are not finite numbers)."""
    stripped = cells.str.strip()
    values = pd.to_numeric(stripped.where(stripped != ""), errors="coerce")
    bad = (stripped != "") & ~np.isfinite(values.to_numpy(np.float64, na_value=np.nan))
    return values.where(stripped != ""), pd.Series(bad, index=cells.index)


class Table:
    """A table task's source and how its rows read; `describe` finds what they are."""

    def __init__(self, name: str, source: TableSource, split: own.OwnSplit, sources: tuple[Source, ...]) -> None:
        self.name, self.source, self.split, self.sources = name, source, split, sources

    def files(self, raw_dir: Path) -> dict[str, Path]:
        return dict(zip(own.parts(self.source.test), (raw_dir / s.target for s in self.sources), strict=True))

    def frames(self, raw_dir: Path) -> dict[str, tuple[Path, pd.DataFrame]]:
        """{part: (file, rows with a label)}, the columns checked."""
        found = {}
        for part, path in self.files(raw_dir).items():
            frame = load(path)
            where = f"{path}: task {self.name}"
            needed = [self.source.target, *([self.source.id] if self.source.id else [])]
            needed += [*self.source.numeric, *self.source.categorical]
            missing = [c for c in needed if c not in frame.columns]
            if missing:
                raise UserError(f"{where}: no column {missing[0]!r} (the columns: {', '.join(frame.columns)})")
            found[part] = (path, frame[own.blank_labels(frame[self.source.target], where, self.source.target)])
        return found

    def kind(self, labels: pd.Series, where: str) -> Kind:
        stated, column = self.source.kind, self.source.target
        values, bad = _numbers(labels)
        if stated == "regression":
            if bad.any():
                row = int(labels.index[np.flatnonzero(bad.to_numpy())[0]])
                raise UserError(
                    f"{where}: {column} holds {labels[row]!r} (row {row + 1}): kind regression needs numbers"
                )
            return stated
        n = len(own.class_names(labels.str.strip()))
        if stated is not None:
            if stated == "binary" and n != 2:
                raise UserError(f"{where}: kind binary, but {column} holds {n} distinct value(s)")
            return stated
        if not bad.any() and (n > MAX_CLASSES or not (values == values.round()).all()):
            return "regression"
        return "binary" if n == 2 else "multiclass"

    def columns(self, path: Path, frame: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(numeric, categorical) feature columns, in the file's order."""
        where = f"{path}: task {self.name}"
        numeric, categorical, left = [], [], []
        for column in frame.columns:
            if column in (self.source.target, self.source.id):
                continue
            cells = frame[column]
            values, bad = _numbers(cells)
            filled = cells.str.strip() != ""
            if column in self.source.categorical:
                categorical.append(column)
            elif column in self.source.numeric or (bad.any() and bad.sum() <= filled.sum() / 2):
                if bad.any():
                    row = int(cells.index[np.flatnonzero(bad.to_numpy())[0]])
                    said = "stated numeric" if column in self.source.numeric else "mostly numbers"
                    raise UserError(
                        f"{where}: column {column!r} ({said}): {cells[row]!r} at {_where(path, row)} "
                        "is not a number (state the column in categorical to read it as categories)"
                    )
                numeric.append(column)
            elif not filled.any() or column == "" or column.startswith("Unnamed: "):
                left.append(f"{column or '(unnamed)'} ({'no value' if not filled.any() else 'an unnamed index'})")
            elif not bad.any():
                numeric.append(column)
            elif cells[filled].nunique() == filled.sum() and filled.sum() > MAX_CLASSES:
                left.append(f"{column} (a different text in every row: a name or a key)")
            else:
                categorical.append(column)
        if left:
            log.warning("%s: column(s) left out: %s; state them to keep them", where, "; ".join(left))
        if not numeric and not categorical:
            raise UserError(f"{where}: no feature column beside {self.source.target!r}")
        return tuple(numeric), tuple(categorical)

    def describe(self, task: Task, raw_dir: Path) -> Task:
        frames = self.frames(raw_dir)
        path, first = next(iter(frames.values()))
        where = f"{path}: task {self.name}"
        labels = pd.concat([frame[self.source.target] for _, frame in frames.values()])
        kind = self.kind(labels, where)
        numeric, categorical = self.columns(path, first)
        classes: tuple[str, ...] = ()
        if kind != "regression":
            classes = own.class_names(labels.str.strip())
            counts = own.label_codes(first[self.source.target].str.strip(), classes).value_counts()
            split = self.split.model_copy(update={"test": 0.0}) if "test" in frames else self.split
            per_class = {classes[i]: int(counts.get(i, 0)) for i in range(len(classes))}
            own.check_classes(per_class, split, where, self.source.target)
        for other, frame in frames.values():
            missing = [c for c in (*numeric, *categorical) if c not in frame.columns]
            if missing:
                raise UserError(f"{other}: task {self.name}: no column {missing[0]!r}, which {path.name} has")
        what = f"{len(classes)} classes" if classes else f"{self.source.target} a quantity"
        log.info("%s: %s (%s); %d numeric, %d categorical column(s)", where, kind, what, len(numeric), len(categorical))
        return task.described({"kind": kind, "classes": classes, "numeric": numeric, "categorical": categorical})

    def read(self, task: Task, raw_dir: Path) -> dict[str, pd.DataFrame]:
        """{"all": rows} or {"train", "test"}: the numeric columns as numbers, blank cells
        empty (NaN), the target a class index or a value, indexed by id."""
        tables = {}
        for part, (path, frame) in self.frames(raw_dir).items():
            where = f"{path}: task {self.name}"
            rows = pd.DataFrame(index=frame.index)
            for column in task.numeric:
                values, bad = _numbers(frame[column])
                if bad.any():
                    row = int(frame.index[np.flatnonzero(bad.to_numpy())[0]])
                    raise UserError(
                        f"{where}: column {column!r}: {frame[column][row]!r} at {_where(path, row)} is not a number"
                    )
                rows[column] = values
            for column in task.categorical:
                cells = frame[column].str.strip()
                rows[column] = cells.where(cells != "")
            labels = frame[self.source.target].str.strip()
            rows[TARGET] = own.label_codes(labels, task.classes) if task.classes else _numbers(labels)[0]
            rows.index = self._ids(frame, where)
            tables[part] = rows
        return tables

    def _ids(self, frame: pd.DataFrame, where: str) -> pd.Index:
        if self.source.id is None:
            return pd.Index(frame.index + 1, name="id")  # the row's number in the file (the header not counted)
        ids = frame[self.source.id].str.strip()
        if ids.duplicated().any():
            raise UserError(f"{where}: id column {self.source.id!r} holds {ids[ids.duplicated()].iloc[0]!r} twice")
        return pd.Index(ids, name="id")


def task(name: str, block: Any) -> Task:
    source = own.checked(TableSource, block, name)
    sources = own.sources(source.table, source.sha256, source.test, source.test_sha256)
    return own.task(
        Table(name, source, own.split_part(block, name), sources),
        name=name,
        kind=source.kind,
        about=f"{name}: your table {PurePosixPath(source.table).name}; {source.target!r} predicted from the rest.",
        numeric=tuple(source.numeric),
        categorical=tuple(source.categorical),
        sources=sources,
        source_params=TableSource,
        features_params=FeatureParams,
        defaults=DEFAULTS,
        limits=(
            f"The kind, the columns and the classes were told by the rows (data/split/{name}/schema.json); "
            "a block states them otherwise.",
        ),
        fills_missing=True,
    )
