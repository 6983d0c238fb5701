"""What the tasks of your own data share (table.py, images.py, texts.py): where the data lies,
how a block is checked, how the rows are split unless it says otherwise, and how labels
become classes.

A file or folder of yours lies under data/inputs/, tracked with `dvc add`: the plan stage
reads it, so that an edit to it re-runs its task's stages and no other's (reprolab/plan.py).
Elsewhere, name it by an http(s) URL with its sha256: the download stage fetches it as it
fetches the classic tasks' files (reprolab/data/sources.py).
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Protocol, TypeVar

import pandas as pd
from pydantic import AfterValidator, Field, ValidationError

from reprolab.core.errors import UserError
from reprolab.core.params import PARAMS_FILE, Fraction, Seed, SplitParams, StrictModel, describe_error
from reprolab.data.tasks.base import Source, Task

INPUTS = "data/inputs"
URL = re.compile(r"https?://[^\s/]+/\S+")
log = logging.getLogger(__name__)


def _location(value: str) -> str:
    if URL.fullmatch(value):
        return value
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or path.parts[:2] != ("data", "inputs") or len(path.parts) < 3:
        raise ValueError(
            f"{value!r}: a file or folder under {INPUTS}/ (`dvc add` it there), or an http(s) URL with its sha256"
        )
    return path.as_posix()


Location = Annotated[str, AfterValidator(_location)]
Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$")]


class OwnSplit(SplitParams):
    """The split of a task of your own, when its block gives none: 70/15/15, by class."""

    val: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15
    test: Fraction = 0.15
    random_state: Seed = 42
    stratify: bool = Field(True, description="each class in each part in its share (classification only)")


def parts(test: str | None) -> tuple[str, ...]:
    """What a task's sources hold, in order: all rows, or the training rows then the test rows."""
    return ("all",) if test is None else ("train", "test")


def is_url(location: str) -> bool:
    return URL.fullmatch(location) is not None


def pinned(*pairs: tuple[str | None, str | None]) -> None:
    """(location, its sha256) pairs of a source block: a URL needs its sha256 (a validator's check)."""
    for location, sha256 in pairs:
        if location is not None and is_url(location) and sha256 is None:
            raise ValueError(f"{location}: a URL needs its sha256 (`sha256sum` of the file) beside it")


def source(location: str, sha256: str | None, unpack: Any = None) -> Source:
    """The Source the download stage reads: a file or folder of the repository, or a URL."""
    name = PurePosixPath(location.split("?")[0]).name
    if is_url(location):
        return Source(name, (location,), sha256, unpack=unpack)
    return Source(name, (), sha256, path=location)


def sources(
    data: str, sha256: str | None, test: str | None, test_sha256: str | None, unpack: Any = None
) -> tuple[Source, ...]:
    """A block's sources: its data, then its test data where it names some (a URL's unpacked so)."""
    pairs = [(data, sha256), *([(test, test_sha256)] if test else [])]
    return tuple(source(where, pin, unpack if is_url(where) else None) for where, pin in pairs)


class Reader(Protocol):
    """What reads a kind of data of your own (table.Table, images.Folder, texts.Texts)."""

    def describe(self, task: Task, raw_dir: Path) -> Task: ...  # the task as its rows are

    def read(self, task: Task, raw_dir: Path) -> Any: ...  # its rows, as that task


def task(reader: Reader, **fields: Any) -> Task:
    """A task of your own, whose `describe` (the split stage's) finds what its rows are and
    returns the task as they are, reading them with `reader`."""

    def describe(raw_dir: Path) -> Task:
        described = reader.describe(base, raw_dir)
        return replace(described, read=functools.partial(reader.read, described), describe=None)

    base = Task(
        read=lambda raw_dir: describe(raw_dir).read(raw_dir),
        describe=describe,
        split_params=OwnSplit,
        predefined_test=len(fields["sources"]) > 1,
        **fields,
    )
    return base


M = TypeVar("M", bound=StrictModel)


def checked(schema: type[M], block: Any, name: str, part: str = "source") -> M:
    """A part of a task's block, checked as params.yaml's schema checks it (one line)."""
    value = block.get(part, {}) if isinstance(block, Mapping) else None
    try:
        return schema.model_validate(value)
    except ValidationError as err:
        where = f"{PARAMS_FILE}: tasks.{name}.{part}"
        raise UserError(f"{where}: " + "; ".join(describe_error(e) for e in err.errors())) from None


def split_part(block: Any, name: str) -> OwnSplit:
    return checked(OwnSplit, block, name, "split")


def class_names(labels: pd.Series) -> tuple[str, ...]:
    """The distinct labels, as names: numbers in numeric order (3 before 10), else as text."""
    distinct = labels.unique()
    numbers = pd.to_numeric(pd.Series(distinct), errors="coerce")
    if numbers.notna().all():
        ordered = sorted(zip(numbers, distinct, strict=True))
        return tuple(_number_name(n) for n, _ in ordered)
    return tuple(sorted(str(d) for d in distinct))


def _number_name(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def label_codes(labels: pd.Series, classes: tuple[str, ...]) -> pd.Series:
    """Each label's class index (labels as the file holds them: "3", "3.0" and "yes" alike)."""
    numbers = pd.to_numeric(labels, errors="coerce")
    names = numbers.map(_number_name) if numbers.notna().all() else labels.astype(str)
    return names.map({name: i for i, name in enumerate(classes)}).astype("int64")


def check_classes(counts: Mapping[str, int], split: SplitParams, where: str, column: str) -> None:
    """One class, or a class too small for the split asked: one line, before any work."""
    if len(counts) < 2:
        only = next(iter(counts), "none")
        raise UserError(f"{where}: one class only ({column} is always {only!r}): nothing to tell apart")
    fractions = [split.val] + ([split.test] if split.test > 0 else [])
    needed = max(2, *(math.ceil(1 / f) for f in fractions))
    small = [(name, n) for name, n in counts.items() if n < needed]
    if small:
        name, n = min(small, key=lambda c: c[1])
        parts = f"val {split.val}" + (f" and test {split.test}" if split.test > 0 else "")
        raise UserError(
            f"{where}: class {name!r} has {n} row(s); a split of {parts} needs at least {needed} of each class "
            f"({len(small)} class(es) have fewer): add rows, merge small classes, or lower the fractions"
        )


def blank_labels(labels: pd.Series, where: str, column: str) -> pd.Series:
    """Which rows have a label; those without are counted in one warning line."""
    present = labels.astype(str).str.strip() != ""
    if not present.any():
        raise UserError(f"{where}: every row's {column} is blank: no label to learn")
    if (~present).any():
        log.warning("%s: %d row(s) with a blank %s skipped", where, int((~present).sum()), column)
    return present
