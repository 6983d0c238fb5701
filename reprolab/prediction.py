"""Prediction: a model file applied to inputs in the form a user holds them, as a table.

    python -m reprolab predict TASK INPUT... [--output FILE] [--model FILE]

Tables: a CSV whose header names the feature columns (others are ignored, in any order),
or, for a task with a headerless raw format (NSL-KDD), its lines with or without the
trailing label columns. Images: image files or folders of them, converted to the model's
size and channels. Text: a file of headlines, one a line, or a CSV with a `title` column.
The output has one row per input: its id, the predicted label by name and the probability
of each class (regression: the predicted value).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from reprolab.features.table import TabularEncoder
from reprolab.features.text import Hashing, Vectors, encode, tokenize
from reprolab.files import UserError
from reprolab.tasks import get
from reprolab.tasks.base import check_values, load_csv
from reprolab.training import outputs, predictions_table

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _read_csv(path: Path, header: bool) -> pd.DataFrame:
    return load_csv(path, header, dtype=str, keep_default_na=False)  # values checked as the pipeline checks them


def _table_rows(path: Path, saved: dict[str, Any], encoder: TabularEncoder) -> pd.DataFrame:
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
    if frame.empty:
        raise UserError(f"{path}: no rows")
    # Checked as the file lays them out, so that an error names the file's own line and column;
    # a column the model does not read (sales, an index, a dropped feature) is not checked.
    frame = frame.assign(**{c: "0" for c in frame.columns if c not in features}).replace("", np.nan)
    return check_values(frame, path, header, list(frame.columns), tuple(encoder.numeric))[features]


def read_tables(paths: list[Path], saved: dict[str, Any]) -> tuple[list, Tensor]:
    encoder = TabularEncoder.from_dict(saved["preprocess"]["encoder"])
    ids, blocks = [], []
    for path in paths:
        rows = _table_rows(path, saved, encoder)
        x, unseen = encoder.transform(rows)
        if any(unseen.values()):
            counts = ", ".join(f"{n} with a {column} never seen in training" for column, n in unseen.items() if n)
            log.warning("%s: %s: encoded as unknown (all zeros)", path, counts)
        ids += [f"{path.name}:{i}" if len(paths) > 1 else i for i in range(1, len(rows) + 1)]
        blocks.append(x)
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
    from PIL import Image, UnidentifiedImageError

    channels, height, width = saved["preprocess"]["image_shape"]
    mode = "L" if channels == 1 else "RGB"
    files, pixels, converted = _image_files(paths), [], 0
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                if image.mode != mode or image.size != (width, height):
                    converted += 1
                    image = image.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
                array = np.asarray(image, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as err:
            raise UserError(f"{path}: not an image ({type(err).__name__})") from None
        pixels.append(array[None] if channels == 1 else array.transpose(2, 0, 1))
    if converted:
        log.warning("%d of %d images converted to %dx%d %s", converted, len(files), width, height, mode)
    return [str(path) for path in files], torch.from_numpy(np.stack(pixels))


def read_texts(paths: list[Path], saved: dict[str, Any]) -> tuple[list, Tensor]:
    pre = saved["preprocess"]
    titles, ids = [], []
    for path in paths:
        if path.suffix.lower() == ".csv":
            frame = _read_csv(path, header=True)
            if "title" not in frame.columns:
                raise UserError(f"{path}: a CSV of headlines needs a 'title' column")
            lines = frame["title"].tolist()
        else:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                raise UserError(f"{path}: not found") from None
            except UnicodeDecodeError:
                raise UserError(f"{path}: not UTF-8 text") from None
        if not lines:
            raise UserError(f"{path}: empty")
        titles += lines
        ids += [f"{path.name}:{i}" if len(paths) > 1 else i for i in range(1, len(lines) + 1)]
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
