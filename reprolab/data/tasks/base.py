"""What a task declares; everything else (split, features, loop, reports) is shared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from reprolab.core.errors import UserError
from reprolab.core.params import FeatureParams, NoSource, SplitParams, StrictModel

Kind = Literal["binary", "multiclass", "regression"]
TARGET = "target"
SOURCES_FILE = "sources.json"  # what the download stage read: {file: {"origin", "sha256", "vouched_by"}}
SCHEMA_FILE = "schema.json"  # in the split folder: what the rows were found to be (Task.schema)

# (test rows with the task's `extras` columns, true labels, predicted labels, scores)
# -> ({named subset of those rows: metrics}, extra tables written beside the plots)
Report = Callable[[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray], tuple[dict, dict[str, pd.DataFrame]]]


@dataclass(frozen=True)
class Source:
    """A file a task downloads (the download stage fetches it: reprolab/data/sources.py)."""

    filename: str  # the canonical download's name, also its name in a mirror
    urls: tuple[str, ...]  # the canonical URL first, then public copies of the same bytes
    sha256: str | None  # of the content the pipeline reads (for gzip: decompressed); None where unknown
    md5: str | None = None  # of the download itself, where that is all the publisher gives
    unpack: Literal["gzip", "tar"] | None = None
    size: int | None = None  # gzip: the decompressed size, beyond which decompression stops
    path: str | None = None  # a file or folder of the repository (data/inputs/...), copied rather than fetched

    @property
    def target(self) -> str:
        """The name under which the content lands: the file, decompressed, or the archive's folder."""
        if self.unpack == "gzip":
            return self.filename.removesuffix(".gz")
        if self.unpack == "tar":
            return self.filename.removesuffix(".tar.gz").removesuffix(".tgz")
        return self.filename


@dataclass(frozen=True)
class Images:
    """Images as stored: uint8 pixels (N, C, H, W), int64 labels; a row's id is its position."""

    pixels: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def as_rows(self) -> pd.DataFrame:
        """Ids and labels only: what the splitter needs."""
        return pd.DataFrame({TARGET: self.labels}, index=pd.RangeIndex(len(self), name="id"))


@dataclass(frozen=True)
class Task:
    name: str
    kind: Kind | None  # None: a task of your own whose kind its rows tell (`describe`)
    about: str  # what the data is, for people: the model card shows it
    # Reads the raw directory: {"all": rows} to be split three ways, or {"train": ..., "test": ...}.
    # Tabular tasks give tables of feature columns, TARGET and extras indexed by row id;
    # image tasks give Images.
    read: Callable[[Path], dict[str, pd.DataFrame]] | Callable[[Path], dict[str, Images]]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()  # names of the class indices in TARGET
    extras: tuple[str, ...] = ()  # columns kept for `report`, not used as features
    holdout_field: str | None = None  # the extra naming each row's group, for tasks.<name>.split.holdout
    sources: tuple[Source, ...] = ()
    source_params: type[StrictModel] = NoSource
    split_params: type[StrictModel] = SplitParams
    features_params: type[StrictModel] = FeatureParams
    # Keeps the rows to use, given tasks.<name>.split (e.g. news: the chosen publishers).
    select: Callable[[pd.DataFrame, Any], pd.DataFrame] | None = None
    # Writes the raw files; by default fetches `sources`. Takes tasks.<name>.source.
    generate: Callable[[Any, Path], None] | None = None
    # {file name: sha256} that a user pinned in tasks.<name>.source, where none is published.
    user_pins: Callable[[Any], dict[str, str]] | None = None
    report: Report | None = None
    predefined_test: bool = False  # `read` returns {"train", "test"} rather than {"all"}
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) for image tasks
    text: str | None = None  # the column holding the text, for text tasks
    headerless: tuple[str, ...] = ()  # the columns of a raw file without a header, in order
    nonnegative: tuple[str, ...] = ()  # numeric columns that cannot be below 0 (counts, rates): refused if so
    limits: tuple[str, ...] = ()  # what a reader of the results should know, for the model card
    # A task of your own (reprolab/data/tasks/table.py, images.py, texts.py): reads the raw folder
    # and returns the task with the kind, classes and columns its rows have, found once by the
    # split stage and kept in its SCHEMA_FILE for the stages after it.
    describe: Callable[[Path], Task] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)  # params parts a block may leave out, as given
    fills_missing: bool = False  # a table whose blank cells are filled by rules fit on training rows
    image_form: Literal["digit", "photo"] = "photo"  # how predict brings an image to the training form

    def schema(self) -> dict[str, Any]:
        """What its rows are: kind, classes and columns (the split stage writes it)."""
        return {
            "kind": self.kind,
            "classes": list(self.classes),
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
        }

    def described(self, schema: dict[str, Any]) -> Task:
        """This task as `schema` (what `schema` gave) says its rows are."""
        return replace(
            self,
            kind=schema["kind"],
            classes=tuple(schema["classes"]),
            numeric=tuple(schema["numeric"]),
            categorical=tuple(schema["categorical"]),
        )

    @property
    def known_kind(self) -> Kind:
        """The kind, once known: a task of your own's is told by its rows (the split stage)."""
        if self.kind is None:
            raise UserError(f"task {self.name}: its kind is told by its rows (run: dvc repro split@{self.name})")
        return self.kind

    @property
    def is_image(self) -> bool:
        return self.image_shape is not None

    @property
    def modality(self) -> Literal["table", "image", "text"]:
        return "image" if self.is_image else "text" if self.text else "table"

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @property
    def n_outputs(self) -> int:
        """The model's outputs: a score per class (multiclass), else one logit or value."""
        return len(self.classes) if self.kind == "multiclass" else 1


def load_csv(path: Path, header: bool, not_found: str = "not found", **options: Any) -> pd.DataFrame:
    """pandas.read_csv, with a missing, empty or unparsable file as one line naming it."""
    try:
        return pd.read_csv(path, header=0 if header else None, skipinitialspace=True, **options)
    except FileNotFoundError:
        raise UserError(f"{path}: {not_found}") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a valid CSV: {' '.join(str(err).split())}") from None


def read_csv(
    path: Path,
    columns: tuple[str, ...],
    *,
    header: bool,
    numeric: tuple[str, ...] = (),
    nonnegative: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read a CSV that must have exactly `columns`, with a finite number in each `numeric` one
    (and one of at least 0 in each `nonnegative` one).

    A bad file ends in one line naming the file and, for a bad value, its line and column."""
    frame = load_csv(path, header, "not found (run: dvc repro download)")
    if frame.shape[1] != len(columns):
        raise UserError(f"{path}: expected {len(columns)} columns, found {frame.shape[1]}")
    if frame.empty:
        raise UserError(f"{path}: no rows" + (" below its header" if header else ""))
    names = [str(name) for name in frame.columns] if header else list(columns)  # as the file names them
    frame.columns = list(columns)
    return check_values(frame, path, header, names, numeric, nonnegative)


def check_values(
    frame: pd.DataFrame,
    path: Path,
    header: bool,
    names: list[str],
    numeric: tuple[str, ...],
    nonnegative: tuple[str, ...] = (),
    first: int = 0,
    blank_allowed: tuple[str, ...] = (),
) -> pd.DataFrame:
    """No empty value anywhere but in the `blank_allowed` columns (a table of your own's: they
    are filled), a finite number in each `numeric` column (converted in place), at least 0 in
    each `nonnegative` one; else one line naming the file's line and column.
    Row i is the file's line first + i + 1 (+ 1 below a header): `first` rows came before."""
    columns = list(frame.columns)

    def line(row: int) -> tuple[int, list[str]]:
        number = first + row + 1 + int(header)
        with path.open(errors="replace") as lines:
            return number, next(islice(lines, number - 1, None), "").rstrip("\r\n").split(",")

    def bad(row: int, col: int, why: str) -> UserError:
        number, fields = line(row)
        value = fields[col].strip() if col < len(fields) else ""
        return UserError(f"{path}: line {number}, column {col + 1} ({names[col]}): {value!r} {why}")

    checked = frame.drop(columns=list(blank_allowed), errors="ignore")
    missing = checked.reindex(columns=columns, fill_value="").isna().to_numpy()
    if missing.any():
        row, col = np.argwhere(missing)[0]
        number, fields = line(row)
        if len(fields) != len(columns):
            raise UserError(f"{path}: line {number}: expected {len(columns)} values, found {len(fields)}")
        raise bad(row, col, "is empty or not a number (NaN)")
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        finite = np.isfinite(values.to_numpy(np.float64))  # NaN where not a number
        if column in blank_allowed:
            finite |= frame[column].isna().to_numpy()
        if not finite.all():
            row = int((~finite).argmax())
            raise bad(row, columns.index(column), "is not a finite number")
        if column in nonnegative and (values < 0).any():
            raise bad(int((values < 0).to_numpy().argmax()), columns.index(column), "is negative (a count or a rate)")
        frame[column] = values
    return frame
