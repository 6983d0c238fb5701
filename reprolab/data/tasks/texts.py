"""A file of labelled texts of your own: a CSV or TSV with a text column and a label column.
Declared in params.yaml alone:

    tasks:
      tickets:
        source: {texts: data/inputs/tickets.csv, text: body, label: team}

The labels are the classes (binary where two). A row whose label is blank is skipped and
counted in a warning; a blank text is an empty one. The texts are read verbatim; the
featurize stage tokenizes them as it does news's headlines (reprolab/data/features/text.py).
"""

from __future__ import annotations

import functools
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from pydantic import Field, model_validator

from reprolab.core.errors import UserError
from reprolab.core.params import StrictModel, TextFeatures
from reprolab.data.tasks import own
from reprolab.data.tasks.base import TARGET, Source, Task, load_csv

SEPARATORS = {".csv": ",", ".tsv": "\t"}


class TextsSource(StrictModel):
    texts: own.Location = Field(description="a CSV or TSV file under data/inputs/, or its URL")
    sha256: own.Sha256 | None = Field(None, description="the file's sha256: a URL needs it; a file is then checked")
    text: str = Field("text", description="the column of texts")
    label: str = Field("label", description="the column of labels")
    test: own.Location | None = Field(None, description="a second file of the same columns: the test rows")
    test_sha256: own.Sha256 | None = None

    @model_validator(mode="after")
    def _suffix(self) -> TextsSource:
        own.pinned((self.texts, self.sha256), (self.test, self.test_sha256))
        for location in (self.texts, self.test):
            if location is not None and PurePosixPath(location.split("?")[0]).suffix.lower() not in SEPARATORS:
                raise ValueError(f"{location}: texts are a .csv or .tsv file")
        if self.text == self.label:
            raise ValueError(f"text and label name the same column ({self.text!r})")
        return self


DEFAULTS = {
    "split": {},
    "features": {"vector_size": 100, "chars": [3, 6], "buckets": 65536},
    "model": {"name": "fasttext", "dim": 64},
    "train": {},
}


@functools.lru_cache(maxsize=4)
def _load(path: Path, stamp: tuple[int, int]) -> pd.DataFrame:
    separator = SEPARATORS[path.suffix.lower()]
    return load_csv(path, True, dtype=str, keep_default_na=False, na_filter=False, sep=separator)


class Texts:
    def __init__(self, name: str, source: TextsSource, split: own.OwnSplit, sources: tuple[Source, ...]) -> None:
        self.name, self.source, self.split, self.sources = name, source, split, sources

    def frames(self, raw_dir: Path) -> dict[str, tuple[Path, pd.DataFrame]]:
        found = {}
        for part, source in zip(own.parts(self.source.test), self.sources, strict=True):
            path = raw_dir / source.target
            try:
                stat = path.stat()
            except FileNotFoundError:
                raise UserError(f"{path}: not found (run: dvc repro download)") from None
            frame = _load(path, (stat.st_size, stat.st_mtime_ns))
            where = f"{path}: task {self.name}"
            if frame.empty:
                raise UserError(f"{where}: no rows below its header")
            missing = [c for c in (self.source.text, self.source.label) if c not in frame.columns]
            if missing:
                raise UserError(f"{where}: no column {missing[0]!r} (the columns: {', '.join(frame.columns)})")
            found[part] = (path, frame[own.blank_labels(frame[self.source.label], where, self.source.label)])
        return found

    def describe(self, task: Task, raw_dir: Path) -> Task:
        frames = self.frames(raw_dir)
        path, first = next(iter(frames.values()))
        where = f"{path}: task {self.name}"
        labels = pd.concat([frame[self.source.label] for _, frame in frames.values()]).str.strip()
        classes = own.class_names(labels)
        counts = own.label_codes(first[self.source.label].str.strip(), classes).value_counts()
        split = self.split.model_copy(update={"test": 0.0}) if "test" in frames else self.split
        per_class = {classes[i]: int(counts.get(i, 0)) for i in range(len(classes))}
        own.check_classes(per_class, split, where, self.source.label)
        kind = "binary" if len(classes) == 2 else "multiclass"
        return task.described({"kind": kind, "classes": classes, "numeric": (), "categorical": ()})

    def read(self, task: Task, raw_dir: Path) -> dict[str, pd.DataFrame]:
        tables = {}
        for part, (_, frame) in self.frames(raw_dir).items():
            codes = own.label_codes(frame[self.source.label].str.strip(), task.classes)
            rows = pd.DataFrame({self.source.text: frame[self.source.text], TARGET: codes})
            rows.index = pd.Index(frame.index + 1, name="id")  # the row's number in the file
            tables[part] = rows
        return tables


def task(name: str, block: Any) -> Task:
    source = own.checked(TextsSource, block, name)
    sources = own.sources(source.texts, source.sha256, source.test, source.test_sha256)
    return own.task(
        Texts(name, source, own.split_part(block, name), sources),
        name=name,
        kind=None,
        about=f"{name}: your texts, {PurePosixPath(source.texts).name}: {source.label!r} told from {source.text!r}.",
        numeric=(),
        sources=sources,
        source_params=TextsSource,
        features_params=TextFeatures,
        text=source.text,
        defaults=DEFAULTS,
        limits=(
            "The texts are tokenized as news's headlines are: punctuation to spaces, lower case, "
            "words and their n-grams.",
        ),
    )
