"""Prediction: a model file applied to inputs in the form a user holds them, as a table.

    python -m reprolab predict TASK INPUT... [--output FILE] [--model FILE]

Tables: a CSV whose header names the feature columns (others are ignored, in any order),
or, for a task with a headerless raw format (NSL-KDD), its lines with or without the
trailing label columns. Images: image files or folders of them, brought to the form of the
training images (reprolab/data/image_form.py: for mnist a light digit, centred, on a dark ground).
Text: a file of texts, one a line, or a CSV (TSV) with the task's text column (news: `title`).
The output has one row per input: its id, the predicted label by name and the probability
of each class (regression: the predicted value). Blank lines are skipped, and said so; the
ids keep the numbers of the lines (rows, for a CSV) they were read from. Inputs are read,
predicted and written BATCH rows at a time, so memory stays bounded however long they are;
a headline is cut at MAX_TITLE characters and a table line longer than MAX_LINE refused.
Only regular files are read: a FIFO, socket or device is refused, or skipped in a folder.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from reprolab.core.errors import UserError
from reprolab.data import image_form
from reprolab.data.features.table import TabularEncoder
from reprolab.data.features.text import TextEncoder
from reprolab.data.tasks.base import check_values, load_csv
from reprolab.evaluation.predictions import predictions_table
from reprolab.learning.inference import EVAL_BATCH, outputs
from reprolab.learning.models import entry

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
BATCH = EVAL_BATCH  # rows read, predicted and written at a time; headlines are padded to the batch's longest
MAX_TITLE = 1_000  # characters of a headline kept (the longest of the five publishers' is 93)
MAX_LINE = 1 << 16  # characters of a table line (an NSL-KDD line has about 150)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # C0 controls but tab and newline, and DEL

Chunk = tuple[list, Tensor]


class Notes(Counter):
    """What was skipped or changed, per kind and input (and each table column's unseen
    categories): said in one warning line each, at the end."""

    def say(self) -> None:
        for kind, text in (
            ("blank", "{n} blank line(s) skipped ({where}); the ids are the lines' own numbers"),
            ("cut", f"{{n}} headline(s) over {MAX_TITLE:,} characters cut to their first {MAX_TITLE:,} ({{where}})"),
            ("control", "{n} headline(s) held NUL or other control characters, read as spaces ({where})"),
        ):
            files = {path: n for (k, path), n in self.items() if k == kind and n}
            if files:
                where = ", ".join(f"{path.name}: {n}" for path, n in files.items())
                log.warning(text.format(n=sum(files.values()), where=where))
        for path in dict.fromkeys(path for _, path in self):  # tables: the categories of each file
            unseen = [
                f"{n} with a {k.removeprefix('unseen ')} never seen in training"
                for (k, p), n in self.items()
                if p == path and n and k.startswith("unseen ")
            ]
            if unseen:
                log.warning("%s: %s: encoded as unknown (all zeros)", path, ", ".join(unseen))


def regular(path: Path) -> Path:
    """`path` if it is a regular file (or a link to one); else one line, before it is opened
    (a FIFO would be waited on for ever)."""
    if not path.exists():
        raise UserError(f"{path}: not found")
    if path.is_dir():
        raise UserError(f"{path}: a folder; name the files in it")
    if not path.is_file():
        raise UserError(f"{path}: not a regular file (a FIFO, socket or device): not read")
    return path


def _ids(path: Path, numbers: np.ndarray, files: int) -> list:
    """The ids of the rows (or lines) numbered so: the number, prefixed by the file's name where there are several."""
    return [f"{path.name}:{n}" if files > 1 else int(n) for n in numbers]


def _lines(f: TextIO, limit: int) -> Iterator[tuple[str, bool]]:
    """The lines of `f` without their ends, each read to `limit` characters at most: (text, cut)."""
    while line := f.readline(limit + 1):
        cut = len(line) > limit and not line.endswith("\n")
        if cut:
            while (rest := f.readline(limit)) and not rest.endswith("\n"):
                pass  # the rest of an over-long line, read in bounded pieces and dropped
        yield line[:limit].rstrip("\r\n"), cut


def _first_fields(path: Path) -> list[str]:
    """The fields of a table's first line; every line is read, and one longer than any row is
    refused as soon as it is read: pandas would take time quadratic in its fields (a line of
    a million of them, minutes) before saying anything."""
    first = None
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        for number, (text, cut) in enumerate(_lines(f, MAX_LINE), 1):
            if cut:
                raise UserError(f"{path}: line {number}: longer than {MAX_LINE:,} characters: not a row of this task")
            first = text if first is None else first
    if first is None:
        raise UserError(f"{path}: empty")
    return [field.strip() for field in next(csv.reader([first]), [])]


def _table_chunks(
    path: Path, saved: dict[str, Any], encoder: TabularEncoder, files: int, notes: Notes
) -> Iterator[Chunk]:
    layout = saved["preprocess"]["layout"]
    features = [*encoder.numeric, *encoder.categorical]
    first = _first_fields(regular(path))
    header = set(features) <= set(first)
    if header:
        names = None
    else:
        headerless = layout["headerless"]
        if not headerless:
            missing = sorted(set(features) - set(first))
            raise UserError(f"{path}: the header lacks column(s) {', '.join(missing)}")
        leading = next((i for i, c in enumerate(headerless) if c not in layout["features"]), len(headerless))
        if len(first) not in (leading, len(headerless)):
            raise UserError(
                f"{path}: expected {leading} or {len(headerless)} comma-separated values a line, found {len(first)}"
            )
        names = list(headerless[: len(first)])
    # Every row, blank ones included (row i is the file's line i + 1, + 1 below a header), as
    # strings: the values are checked as the pipeline checks them.
    named: dict[str, Any] = {"names": names} if names else {}
    reader = load_csv(
        path, header, dtype=str, keep_default_na=False, skip_blank_lines=False, chunksize=BATCH, **named
    )  # fmt: skip
    seen = 0
    with reader:
        for frame in _parsed(reader, path):
            blank = frame.fillna("").astype(str).apply(lambda c: c.str.strip() == "").all(axis=1).to_numpy()
            # Checked as the file lays them out, so that an error names the file's own line and
            # column; a column the model does not read (sales, an index, a dropped feature) is not
            # checked, nor a blank row (it stands in with zeros, and is left out below).
            columns = list(frame.columns)
            frame = frame.assign(**{c: "0" for c in columns if c not in features})
            frame.loc[blank] = "0"
            frame = check_values(
                frame.replace("", np.nan), path, header, columns, tuple(encoder.numeric),
                tuple(layout["nonnegative"]), seen, blank_allowed=tuple(encoder.fill),
            )  # fmt: skip
            notes["blank", path] += int(blank.sum())
            if (~blank).any():
                x, unseen = encoder.transform(frame[features][~blank])
                for column, n in unseen.items():
                    notes[f"unseen {column}", path] += n
                yield _ids(path, seen + np.flatnonzero(~blank) + 1, files), torch.from_numpy(x)
            seen += len(frame)
    if seen == notes["blank", path]:
        raise UserError(f"{path}: no rows")


def _parsed(reader, path: Path) -> Iterator[pd.DataFrame]:
    try:
        yield from reader
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a valid CSV: {' '.join(str(err).split())}") from None


def read_tables(paths: list[Path], saved: dict[str, Any], notes: Notes) -> Iterator[Chunk]:
    encoder = TabularEncoder.from_dict(saved["preprocess"]["encoder"])
    for path in paths:
        yield from _table_chunks(path, saved, encoder, len(paths), notes)


def _image_files(paths: list[Path]) -> list[Path]:
    """The image files named and in the folders named; what a folder holds besides (files of
    other kinds, FIFOs, sockets, devices, sub-folders) is counted in one warning, never read."""
    files: list[Path] = []
    other: Counter[str] = Counter()
    for path in paths:
        if path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.is_dir():
                    other["folders"] += 1
                elif not entry.is_file():
                    other["not regular files"] += 1
                elif entry.suffix.lower() not in IMAGE_SUFFIXES:
                    other["files of other kinds"] += 1
                else:
                    files.append(entry)
        else:
            files.append(regular(path))
    if other:
        said = ", ".join(f"{n} {kind}" for kind, n in sorted(other.items()))
        log.warning("%d entries skipped, not read as images (%s; images: %s)", sum(other.values()), said,
                    " ".join(sorted(IMAGE_SUFFIXES)))  # fmt: skip
    if not files:
        raise UserError(f"{', '.join(map(str, paths))}: no image files")
    return files


def read_images(paths: list[Path], saved: dict[str, Any], notes: Notes) -> Iterator[Chunk]:
    shape, form = tuple(saved["preprocess"]["image_shape"]), saved["preprocess"]["image_form"]
    files, done = _image_files(paths), Counter[str]()
    for start in range(0, len(files), BATCH):
        pixels = []
        for path in files[start : start + BATCH]:
            try:
                pixels.append(image_form.read(path, shape, done, form))
            except ValueError as err:
                raise UserError(f"{path}: {err}") from None
        yield [str(path) for path in files[start : start + BATCH]], torch.from_numpy(np.stack(pixels))
    if line := image_form.summary(done, len(files), shape):
        log.warning("%s", line)


def _titles(path: Path, notes: Notes, column: str) -> Iterator[tuple[int, str]]:
    """(line or row number, text) of every text of a file (a CSV's or TSV's `column`, else
    every line), blank ones left out (and counted), each cut to MAX_TITLE characters and its
    control characters read as spaces."""
    if path.suffix.lower() in (".csv", ".tsv"):
        options: dict[str, Any] = {
            "dtype": str,
            "keep_default_na": False,
            "skip_blank_lines": False,
            "chunksize": BATCH,
            "sep": "\t" if path.suffix.lower() == ".tsv" else ",",
        }
        with load_csv(regular(path), True, **options) as reader:
            frames = _parsed(reader, path)
            rows = (
                (i + 1, t) for frame in frames for i, t in zip(frame.index, _column(frame, path, column), strict=True)
            )
            lines = ((n, t[:MAX_TITLE], len(t) > MAX_TITLE) for n, t in rows)
            yield from _kept(path, lines, notes)
        return
    try:
        with regular(path).open(encoding="utf-8") as f:
            yield from _kept(path, ((n, t, cut) for n, (t, cut) in enumerate(_lines(f, MAX_TITLE), 1)), notes)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None


def _column(frame: pd.DataFrame, path: Path, column: str) -> pd.Series:
    if column not in frame.columns:
        raise UserError(f"{path}: a table of texts needs a {column!r} column (the columns: {', '.join(frame.columns)})")
    return frame[column].fillna("")


def _kept(path: Path, lines: Iterator[tuple[int, str, bool]], notes: Notes) -> Iterator[tuple[int, str]]:
    total = 0
    for number, text, cut in lines:
        total += 1
        if not text.strip():
            notes["blank", path] += 1
            continue
        notes["cut", path] += cut
        if CONTROL.search(text):
            notes["control", path] += 1
            text = CONTROL.sub(" ", text)
        yield number, text
    if total == notes["blank", path]:
        raise UserError(f"{path}: empty" if not total else f"{path}: only blank lines")


def read_texts(paths: list[Path], saved: dict[str, Any], notes: Notes) -> Iterator[Chunk]:
    encoder = TextEncoder.from_dict(saved["preprocess"]["encoder"])
    reads = entry(saved["config"]["name"]).reads  # the mean vector, the token ids or the n-grams
    for path in paths:
        titles = _titles(path, notes, saved["preprocess"]["text"])
        while batch := list(islice(titles, BATCH)):
            numbers, texts = zip(*batch, strict=True)
            yield _ids(path, np.asarray(numbers), len(paths)), torch.from_numpy(encoder.encode(texts)[0][reads])


READERS = {"table": read_tables, "image": read_images, "text": read_texts}


def predictions(saved: dict[str, Any], model: torch.nn.Module, inputs: list[Path], notes: Notes) -> Iterator[Any]:
    """The predictions of every input, a table of at most BATCH rows at a time."""
    for ids, x in READERS[saved["modality"]](inputs, saved, notes):
        out = outputs(model, x, saved["kind"])
        yield predictions_table(ids, out, saved["kind"], saved["classes"], saved["config"]["threshold"])


def run(task: str, inputs: list[Path], output: Path | None, model_path: Path) -> int:
    """Write the predictions of `inputs` as CSV to `output` (stdout if None), whole or not at
    all; return how many rows were written."""
    from reprolab.core.files import atomic_path, output_file
    from reprolab.learning import model_file

    if output is not None:
        output_file(output, tuple(inputs))
    saved, model = model_file.load(model_path, task)
    if saved["task"] != task:
        raise UserError(f"{model_path}: a model of {saved['task']}, not {task}")
    notes, rows = Notes(), 0
    with ExitStack() as stack:
        if output is None:  # stdout, too, gets the whole table or nothing: spooled to a file first
            out = stack.enter_context(tempfile.TemporaryFile("w+", newline=""))
        else:
            out = stack.enter_context(stack.enter_context(atomic_path(output)).open("w", newline=""))
        for table in predictions(saved, model, inputs, notes):
            out.write(table.to_csv(index=False, header=rows == 0, float_format="%.9g"))
            rows += len(table)
        if output is None:
            out.seek(0)
            shutil.copyfileobj(out, sys.stdout)
    notes.say()
    return rows
