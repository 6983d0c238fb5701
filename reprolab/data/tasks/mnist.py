"""The mnist task: where its data comes from, how it is read and split (what the data is: ABOUT,
which the model card shows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reprolab.core.errors import UserError
from reprolab.data.tasks.base import Images, Source, Task

ABOUT = """mnist: handwritten digits, 28x28 grey images, 10 classes (LeCun et al.).

The IDX files are read strictly: magic number, dimensions and exact size are
checked, so a corrupt or truncated file is an error naming it.
"""

# torchvision's mirror (HTTPS); checksums and sizes are of the decompressed IDX content.
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",)
FILES = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
}
SOURCES = tuple(
    Source(f"{name}.gz", tuple(f"{mirror}{name}.gz" for mirror in MIRRORS), sha256, unpack="gzip", size=size)
    for name, (sha256, size) in FILES.items()
)
MAGIC = {1: 0x00000801, 3: 0x00000803}  # unsigned bytes, 1 or 3 dimensions


def read_idx(path: Path, dims: int) -> np.ndarray:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run: dvc repro download)") from None
    if len(data) < 4 + 4 * dims or int.from_bytes(data[:4], "big") != MAGIC[dims]:
        raise UserError(f"{path}: not an IDX file of {dims} dimension(s) of unsigned bytes (bad magic number)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    body = data[4 + 4 * dims :]
    if len(body) != int(np.prod(shape)):
        raise UserError(f"{path}: {len(body)} bytes of data, the header says {int(np.prod(shape))} {shape}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _read_pair(raw_dir: Path, prefix: str) -> Images:
    pixels = read_idx(raw_dir / f"{prefix}-images-idx3-ubyte", 3)
    labels = read_idx(raw_dir / f"{prefix}-labels-idx1-ubyte", 1)
    if len(pixels) != len(labels):
        raise UserError(f"{raw_dir}/{prefix}-*: {len(pixels)} images but {len(labels)} labels")
    if labels.max(initial=0) > 9:
        raise UserError(f"{raw_dir}/{prefix}-labels-idx1-ubyte: label {labels.max()} is not a digit")
    return Images(pixels[:, None], labels.astype(np.int64))


def read(raw_dir: Path) -> dict[str, Images]:
    return {"train": _read_pair(raw_dir, "train"), "test": _read_pair(raw_dir, "t10k")}


TASK = Task(
    about=ABOUT,
    name="mnist",
    kind="multiclass",
    read=read,
    numeric=(),
    classes=tuple(str(digit) for digit in range(10)),
    sources=SOURCES,
    predefined_test=True,
    image_shape=(1, 28, 28),
    image_form="digit",
)
