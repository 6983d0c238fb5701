"""Prediction: a model file applied to inputs in the form a user holds them, as a table.

    python -m reprolab predict TASK INPUT... [--output FILE] [--model FILE]

Tables: a CSV whose header names the feature columns (others are ignored, in any order),
or, for a task with a headerless raw format (NSL-KDD), its lines with or without the
trailing label columns. Images: image files or folders of them, brought to the form of the
training images (reprolab/image_form.py: for mnist a light digit, centred, on a dark ground).
Text: a file of headlines, one a line, or a CSV with a `title` column.
The output has one row per input: its id, the predicted label by name and the probability
of each class (regression: the predicted value). Blank lines are skipped, and said so; the
ids keep the numbers of the lines (rows, for a CSV) they were read from.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from reprolab import image_form
from reprolab.features.table import TabularEncoder
from reprolab.features.text import Hashing, Vectors, encode, tokenize
from reprolab.files import UserError
from reprolab.tasks import get
from reprolab.tasks.base import check_values, load_csv
from reprolab.training import outputs, predictions_table

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _read_csv(path: Path, header: bool) -> pd.DataFrame:
    """Every row, blank ones included (row i is the file's line i + 1, + 1 below a header), as
    strings: the values are checked as the pipeline checks them."""
    return load_csv(path, header, dtype=str, keep_default_na=False, skip_blank_lines=False)


def _blank(frame: pd.DataFrame) -> np.ndarray:
    """Which rows hold nothing: a blank line, or a row of empty fields."""
    return frame.fillna("").astype(str).apply(lambda column: column.str.strip() == "").all(axis=1).to_numpy()


def _ids(path: Path, numbers: np.ndarray, files: int) -> list:
    """The ids of the rows (or lines) numbered so: the number, prefixed by the file's name where there are several."""
    return [f"{path.name}:{n}" if files > 1 else int(n) for n in numbers]


def _skipped(blanks: dict[Path, int]) -> None:
    """One warning line for the blank lines of every input."""
    if total := sum(blanks.values()):
        where = ", ".join(f"{path.name}: {n}" for path, n in blanks.items() if n)
        log.warning("%d blank line(s) skipped (%s); the ids are the lines' own numbers", total, where)


def _table_rows(path: Path, saved: dict[str, Any], encoder: TabularEncoder) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature rows of one file, and which of the file's rows were blank (left out)."""
    features = [*encoder.numeric, *encoder.categorical]
    frame = _read_csv(path, header=True)
    if set(features) <= set(frame.columns):
        header = True
    else:
        task = get(saved["task"])
        layout = task.headerless
        if not layout:
            missing = sorted(set(features) - set(frame.columns))
            raise UserError(f"{path}: the header lacks column(s) {', '.join(missing)}")
        frame = _read_csv(path, header=False)
        leading = next((i for i, c in enumerate(layout) if c not in task.features), len(layout))
        if frame.shape[1] not in (leading, len(layout)):
            raise UserError(
                f"{path}: expected {leading} or {len(layout)} comma-separated values a line, found {frame.shape[1]}"
            )
        frame.columns = list(layout[: frame.shape[1]])
        header = False
    blank = _blank(frame)
    if blank.all():
        raise UserError(f"{path}: no rows")
    # Checked as the file lays them out, so that an error names the file's own line and column;
    # a column the model does not read (sales, an index, a dropped feature) is not checked, nor
    # a blank row (it stands in with zeros, and is left out below).
    frame = frame.assign(**{c: "0" for c in frame.columns if c not in features})
    frame.loc[blank] = "0"
    frame = check_values(frame.replace("", np.nan), path, header, list(frame.columns), tuple(encoder.numeric))
    return frame[features][~blank], blank


def read_tables(paths: list[Path], saved: dict[str, Any]) -> tuple[list, Tensor]:
    encoder = TabularEncoder.from_dict(saved["preprocess"]["encoder"])
    ids, blocks, blanks = [], [], {}
    for path in paths:
        rows, blank = _table_rows(path, saved, encoder)
        blanks[path] = int(blank.sum())
        x, unseen = encoder.transform(rows)
        if any(unseen.values()):
            counts = ", ".join(f"{n} with a {column} never seen in training" for column, n in unseen.items() if n)
            log.warning("%s: %s: encoded as unknown (all zeros)", path, counts)
        ids += _ids(path, np.flatnonzero(~blank) + 1, len(paths))
        blocks.append(x)
    _skipped(blanks)
    return ids, torch.from_numpy(np.concatenate(blocks))


def _image_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"{path}: not found")
    if not files:
        raise UserError(f"{', '.join(map(str, paths))}: no image files")
    return files


def read_images(paths: list[Path], saved: dict[str, Any]) -> tuple[list, Tensor]:
    shape = tuple(saved["preprocess"]["image_shape"])
    files, pixels, done = _image_files(paths), [], Counter()
    for path in files:
        try:
            pixels.append(image_form.read(path, shape, done))
        except ValueError as err:
            raise UserError(f"{path}: {err}") from None
    if line := image_form.summary(done, len(files), shape):
        log.warning("%s", line)
    return [str(path) for path in files], torch.from_numpy(np.stack(pixels))


def read_texts(paths: list[Path], saved: dict[str, Any]) -> tuple[list, Tensor]:
    pre = saved["preprocess"]
    titles, ids, blanks = [], [], {}
    for path in paths:
        if path.suffix.lower() == ".csv":
            frame = _read_csv(path, header=True)
            if "title" not in frame.columns:
                raise UserError(f"{path}: a CSV of headlines needs a 'title' column")
            lines = frame["title"].fillna("").tolist()
        else:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                raise UserError(f"{path}: not found") from None
            except UnicodeDecodeError:
                raise UserError(f"{path}: not UTF-8 text") from None
        kept = np.flatnonzero([line.strip() != "" for line in lines])
        if not kept.size:
            raise UserError(f"{path}: empty" if not lines else f"{path}: only blank lines")
        blanks[path] = len(lines) - kept.size
        titles += [lines[i] for i in kept]
        ids += _ids(path, kept + 1, len(paths))
    _skipped(blanks)
    sentences = [tokenize(t, pre["lowercase"]) for t in titles]
    if saved["config"]["name"] == "fasttext":
        hashing = Hashing(pre["hashing"]["ngrams"], tuple(pre["hashing"]["chars"]), pre["hashing"]["buckets"])
        return ids, torch.from_numpy(hashing.encode(sentences))
    vectors = Vectors(list(pre["vocab"]), pre["vectors"].numpy())
    means, tokens, _ = encode(sentences, vectors)
    if saved["config"]["name"] == "bag":
        return ids, torch.from_numpy(tokens)
    if pre["standardize"] is not None:
        means = ((means - np.asarray(pre["standardize"]["mean"])) / np.asarray(pre["standardize"]["std"])).astype(
            np.float32
        )
    return ids, torch.from_numpy(means)


READERS = {"table": read_tables, "image": read_images, "text": read_texts}


def run(task: str, inputs: list[Path], output: Path | None, model_path: Path) -> pd.DataFrame:
    from reprolab import model_file
    from reprolab.files import write_text

    saved, model = model_file.load(model_path, task)
    if saved["task"] != task:
        raise UserError(f"{model_path}: a model of {saved['task']}, not {task}")
    ids, x = READERS[saved["modality"]](inputs, saved)
    out = outputs(model, x, saved["kind"])
    result = predictions_table(ids, out, saved["kind"], saved["classes"], saved["config"]["threshold"])
    text = result.to_csv(index=False, float_format="%.9g")
    if output is None:
        print(text, end="")
    else:
        write_text(output, text)
    return result
